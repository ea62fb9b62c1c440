"""Runs the ActRe service: `python -m a3t_actre [--engine local|tgi|openai] [--model M]
[--port N] [--config FILE]`.

Serves ActReService.Explain (rationales for chosen actions) on port 50053, /metrics on 9103.
Health turns SERVING once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import logging
import sys

from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
from a3t.inference.served import ServedModel
from a3t.model_service import serve_model_service
from a3t.rpc.server import Registration, run_service
from a3t_actre.config import ActReSettings
from a3t_actre.core import ActReCore
from a3t_actre.server import ActReServicer

log = logging.getLogger("a3t_actre")


async def run(settings: ActReSettings) -> None:
    model = ServedModel("actre", settings.artifact_root)
    core = ActReCore(model, settings)
    registration = Registration(
        actre_pb2_grpc.add_ActReServiceServicer_to_server,
        ActReServicer(core),
        actre_pb2.DESCRIPTOR.services_by_name["ActReService"].full_name,
    )
    await serve_model_service(
        "actre",
        model,
        registration,
        settings.engine_spec(),
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("actre", ActReSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
