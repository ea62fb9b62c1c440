"""Runs the trainer service: `python -m a3t_trainer [--state-dir DIR] [--port N] [--config FILE]`.

Serves TrainerService; runs recorded under <state-dir>/runs that did not finish are resumed from
their last epoch checkpoint when the service starts.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from a3t.rpc.server import run_service
from a3t_trainer.config import TrainerSettings

log = logging.getLogger("a3t_trainer")


async def run(settings: TrainerSettings) -> None:
    # Imported here, not at the top: a bad config then fails in a fraction of a second instead
    # of after torch's import.
    import torch

    from a3t.rpc.server import Registration, serve
    from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc
    from a3t_trainer.runs import RunRegistry
    from a3t_trainer.server import TrainerServicer
    from a3t_trainer.train import warm_up

    # One pool of intra-op threads for the whole process (NOTES.md: oversubscribing 2 cores is
    # 10-30x slower); the training thread inherits it.
    torch.set_num_threads(settings.torch_threads)
    registry = RunRegistry(settings)

    async def start() -> None:
        # SERVING only once a run can start training at once (transformers + peft take seconds
        # to import), then resume what a previous process left unfinished.
        await asyncio.to_thread(warm_up)
        await registry.start()

    await serve(
        "trainer",
        [
            Registration(
                trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
                TrainerServicer(registry),
                trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name,
            )
        ],
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
        start=start,
        stop=registry.close,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("trainer", TrainerSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
