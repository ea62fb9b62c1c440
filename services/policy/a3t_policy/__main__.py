"""Runs the policy service: `python -m a3t_policy [--engine local|tgi|openai] [--model M]
[--port N] [--config FILE]`.

Serves PolicyService.Act (the ReAct agent) on port 50052, /metrics on 9102. Health turns SERVING
once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import logging
import sys

from a3t.inference.served import ServedModel
from a3t.model_service import serve_model_service
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.rpc.server import Registration, run_service
from a3t_policy.config import PolicySettings
from a3t_policy.core import PolicyCore
from a3t_policy.server import PolicyServicer

log = logging.getLogger("a3t_policy")


async def run(settings: PolicySettings) -> None:
    model = ServedModel("policy", settings.artifact_root)
    core = PolicyCore(model, settings)
    registration = Registration(
        policy_pb2_grpc.add_PolicyServiceServicer_to_server,
        PolicyServicer(core),
        policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name,
    )
    await serve_model_service(
        "policy",
        model,
        registration,
        settings.engine_spec(),
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("policy", PolicySettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
