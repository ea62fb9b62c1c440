"""Runs the controller service: `python -m a3t_controller [--db-path FILE] [--env-target H:P] ...`.

Experiments are created over gRPC (ControllerService) and run against the env, policy, actre,
trainer (and critic) services named by the *_target settings. For a one-machine run use `a3t run`.
"""

from __future__ import annotations

import logging
import sys

from prometheus_client import REGISTRY

from a3t.controller.v1 import controller_pb2, controller_pb2_grpc
from a3t.rpc.server import Registration, run_service, serve
from a3t_controller import metrics
from a3t_controller.config import ControllerSettings
from a3t_controller.core import ControllerCore
from a3t_controller.server import ControllerServicer
from a3t_controller.store import Store
from a3t_controller.wiring import build_services

log = logging.getLogger("a3t_controller")


async def run(settings: ControllerSettings) -> None:
    store = Store(settings.db_path)
    REGISTRY.register(metrics.ExperimentStates(settings.db_path))
    targets = {
        "env": settings.env_target,
        "policy": settings.policy_target,
        "actre": settings.actre_target,
        "critic": settings.critic_target,
        "trainer": settings.trainer_target,
    }
    # A deployment turns action grounding on in the policy service's own settings (the chart's
    # policy.settings.ground_actions), for every caller; the controller does not ask for it.
    services = build_services(targets, store, settings.service_wait_seconds, ground_actions=False)
    core = ControllerCore(store, services, settings.artifacts_dir)
    servicer = ControllerServicer(core)

    async def start() -> None:
        core.resume_running()

    async def stop() -> None:
        await core.stop_all()
        store.close()

    await serve(
        "controller",
        [
            Registration(
                controller_pb2_grpc.add_ControllerServiceServicer_to_server,
                servicer,
                controller_pb2.DESCRIPTOR.services_by_name["ControllerService"].full_name,
            )
        ],
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        grace_seconds=settings.grace_seconds,
        start=start,
        stop=stop,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service("controller", ControllerSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
