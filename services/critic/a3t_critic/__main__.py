"""Runs the critic service: `python -m a3t_critic [--engine local|tgi|openai] [--model M]
[--rubric NAME] [--rubrics-file FILE] [--port N] [--config FILE]`.

Serves CriticService.Score (0-10 with a verdict and reasons) on port 50054, /metrics on 9104.
Health turns SERVING once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import logging
import sys

from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
from a3t.inference.served import ServedModel
from a3t.model_service import serve_model_service
from a3t.rpc.server import Registration, run_service
from a3t_critic.config import CriticSettings
from a3t_critic.core import CriticCore
from a3t_critic.server import CriticServicer

log = logging.getLogger("a3t_critic")


async def run(settings: CriticSettings) -> None:
    model = ServedModel("critic", settings.artifact_root)
    core = CriticCore(model, settings, settings.rubrics())
    registration = Registration(
        critic_pb2_grpc.add_CriticServiceServicer_to_server,
        CriticServicer(core),
        critic_pb2.DESCRIPTOR.services_by_name["CriticService"].full_name,
    )
    await serve_model_service(
        "critic",
        model,
        registration,
        settings.engine_spec(),
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("critic", CriticSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
