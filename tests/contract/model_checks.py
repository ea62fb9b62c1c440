"""What the three model services' contract tests share: starting a servicer on loopback with a
real engine, and the checks of LoadAdapter, UnloadAdapter and GetModelInfo (same RPCs, same
error codes, on every model service)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio

from a3t.common.v1 import types_pb2 as pb
from a3t.inference.base import Engine
from a3t.inference.served import ServedModel
from a3t.rpc.server import Registration, RunningServer, start_server


async def start_model_server(
    service: str,
    engine: Engine,
    make_servicer: Callable[[ServedModel], Any],
    add_to_server: Callable,
    full_name: str,
    artifact_root: Path | None = None,
) -> tuple[RunningServer, ServedModel]:
    """The service's real servicer over `engine`, SERVING on a free loopback port."""
    model = ServedModel(service, artifact_root)
    model.attach(engine)
    running = await start_server(
        service,
        [Registration(add_to_server, make_servicer(model), full_name)],
        metrics_port=0,
    )
    await running.set_serving(True)
    return running, model


async def rpc_error(coro) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


def metrics_text(running: RunningServer) -> str:
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    return urllib.request.urlopen(url, timeout=5).read().decode()


async def check_model_info(stub: Any, base_model: str) -> None:
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert (info.base_model, info.engine, info.device, info.dtype) == (
        base_model,
        "local",
        "cpu",
        "float32",
    )
    assert info.max_context_tokens == 4096 and not info.adapters and info.active_adapter == ""


async def check_adapter_rpcs(stub: Any, adapters: dict[str, str], base_model: str) -> None:
    """LoadAdapter / UnloadAdapter happy paths and every documented error code."""
    ref = pb.AdapterRef(name="r1", uri=f"file://{adapters['r1']}", version=1)
    loaded = await stub.LoadAdapter(pb.LoadAdapterRequest(adapter=ref, activate=True), timeout=60)
    assert [a.name for a in loaded.model.adapters] == ["r1"]
    assert loaded.model.adapters[0].version == 1
    assert loaded.model.adapters[0].base_model == base_model
    assert loaded.model.active_adapter == "r1"
    info = await stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert info.active_adapter == "r1"

    async def load(**fields: Any) -> tuple[grpc.StatusCode, str]:
        return await rpc_error(
            stub.LoadAdapter(pb.LoadAdapterRequest(adapter=pb.AdapterRef(**fields)), timeout=60)
        )

    code, details = await load(name="b", uri=adapters["bare"])
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "manifest.json" in details
    code, details = await load(name="o", uri=adapters["other"])
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "other/model" in details
    code, details = await load(name="g", uri=adapters["r1"] + "-gone")
    assert code == grpc.StatusCode.NOT_FOUND and "does not exist" in details
    code, details = await load(name="", uri=adapters["r1"])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "adapter.name" in details
    code, details = await load(name="r2", uri=adapters["r1"], version=7)
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "version 7" in details

    unloaded = await stub.UnloadAdapter(pb.UnloadAdapterRequest(name="r1"), timeout=60)
    assert not unloaded.model.adapters and unloaded.model.active_adapter == ""
    code, details = await rpc_error(stub.UnloadAdapter(pb.UnloadAdapterRequest(name="r1")))
    assert code == grpc.StatusCode.NOT_FOUND and "not loaded" in details
