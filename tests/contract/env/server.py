"""The real env servicer on a loopback port, for the env contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from grpc import aio

from a3t.env.v1 import env_pb2_grpc
from a3t.rpc.client import channel
from a3t.rpc.server import Registration, RunningServer, start_server
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore
from a3t_env.pool import GamePool
from a3t_env.server import EnvServicer


@asynccontextmanager
async def serving_env(
    settings: EnvSettings, *, cache_size: int = 16, metrics_port: int | None = None
) -> AsyncIterator[tuple[aio.Channel, RunningServer]]:
    """EnvCore over a GamePool of `settings.workers` serving `settings.envs`, behind the real
    servicer; yields a channel to it and the running server, and shuts everything down after."""
    roots = {env: settings.env_root(env) for env in settings.envs}
    pool = GamePool(
        settings.workers,
        roots,
        cache_size=cache_size,
        recycle_after_loads=settings.recycle_after_loads,
        recycle_above_rss_mib=settings.recycle_above_rss_mib,
        read_only_roots={env: settings.read_only_roots(env) for env in settings.envs},
    )
    await pool.start()
    core = EnvCore(settings, pool)
    try:
        running = await start_server(
            "env",
            [
                Registration(
                    env_pb2_grpc.add_EnvServiceServicer_to_server,
                    EnvServicer(core),
                    "a3t.env.v1.EnvService",
                )
            ],
            metrics_port=metrics_port,
        )
        await running.set_serving(True)
        try:
            async with channel(f"127.0.0.1:{running.port}") as chan:
                yield chan, running
        finally:
            await core.close_all()
            await running.server.stop(0)
    finally:
        await pool.shutdown()
