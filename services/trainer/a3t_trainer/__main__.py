"""Runs the trainer service: `python -m a3t_trainer [--state-dir DIR] [--port N] [--config FILE]`.

Serves TrainerService; runs recorded under <state-dir>/runs that did not finish are resumed from
their last epoch checkpoint when the service starts.
"""

from __future__ import annotations

import logging
import sys

from a3t.rpc.server import Registration, run_service, serve
from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from a3t_trainer.config import TrainerSettings

log = logging.getLogger("a3t_trainer")


async def run(settings: TrainerSettings) -> None:
    # Imported here, not at the top: a bad config then fails in a fraction of a second instead
    # of after torch's import (a3t_trainer.core imports it).
    from a3t_trainer.core import TrainerCore
    from a3t_trainer.server import TrainerServicer

    core = TrainerCore(settings)
    await serve(
        "trainer",
        [
            Registration(
                trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
                TrainerServicer(core),
                trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name,
            )
        ],
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
        start=core.start,
        stop=core.close,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("trainer", TrainerSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
