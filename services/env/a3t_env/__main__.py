"""Runs the env service: `python -m a3t_env [--data-root DIR] [--envs alfworld,webshop] [--port N]`.

Serves the registered environments (a3t.envs): each env's tasks under <data-root>/<env>/ (or its
--env-data-roots entry, where GenerateTasks writes) and under its --env-read-only-roots entries
(listed and played, never written to), played by its engine in worker processes.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.rpc.server import Registration, run_service, serve
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore
from a3t_env.pool import GamePool
from a3t_env.server import EnvServicer

log = logging.getLogger("a3t_env")


async def _reap(core: EnvCore, every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        core.expire_idle()


async def run(settings: EnvSettings) -> None:
    roots = {env: settings.env_root(env) for env in settings.envs}
    pool = GamePool(
        settings.workers,
        roots,
        cache_size=settings.cache_size,
        recycle_after_loads=settings.recycle_after_loads,
        recycle_above_rss_mib=settings.recycle_above_rss_mib,
        read_only_roots={env: settings.read_only_roots(env) for env in settings.envs},
    )
    core = EnvCore(settings, pool)
    reaper: asyncio.Task | None = None

    async def start() -> None:
        nonlocal reaper
        await pool.start()
        reaper = asyncio.create_task(_reap(core, min(30.0, settings.session_ttl_seconds / 4)))

    async def stop() -> None:
        if reaper is not None:
            reaper.cancel()
        await core.close_all()
        await pool.shutdown()

    await serve(
        "env",
        [
            Registration(
                env_pb2_grpc.add_EnvServiceServicer_to_server,
                EnvServicer(core),
                env_pb2.DESCRIPTOR.services_by_name["EnvService"].full_name,
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
    return run_service("env", EnvSettings, run, argv)


if __name__ == "__main__":
    sys.exit(main())
