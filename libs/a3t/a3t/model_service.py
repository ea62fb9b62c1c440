"""The gRPC side the policy, ActRe and critic services share: adapter and model-info RPCs, request
parameter conversion, and their whole `main()`, the engine loaded at start. Their settings and
checks are a3t.inference.service (no grpc there, so a service's core imports without it).

Each service's servicer composes a `ModelRpcs` and forwards LoadAdapter, UnloadAdapter and
GetModelInfo to it (composition: servicers inherit only from their generated base). Each
service's `__main__` is one `run_model_service` call naming what differs: its name, its settings
and its `server.registration` (core and servicer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from a3t.common.v1 import types_pb2 as pb
from a3t.inference.base import EngineInfo, GenerationParams
from a3t.inference.factory import build_engine
from a3t.inference.served import ServedModel
from a3t.inference.service import ModelServiceSettings
from a3t.rpc.server import Registration, run_service, serve

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ModelServiceSettings)


def params_from_pb(msg: pb.GenerationParams, default_max_new_tokens: int) -> GenerationParams:
    """Request generation settings -> GenerationParams; zero values mean the server defaults
    (max_new_tokens from config, greedy, top_p 1, unseeded). Bad values: InvalidArgument."""
    return GenerationParams(
        max_new_tokens=msg.max_new_tokens or default_max_new_tokens,
        temperature=msg.temperature,
        top_p=msg.top_p or 1.0,
        seed=msg.seed or None,
        stop=tuple(msg.stop),
    )


def model_info_to_pb(info: EngineInfo) -> pb.ModelInfo:
    return pb.ModelInfo(
        base_model=info.base_model,
        engine=info.engine,
        device=info.device,
        dtype=info.dtype,
        adapters=[
            pb.AdapterRef(name=a.name, uri=a.path, version=a.version, base_model=a.base_model)
            for a in info.adapters
        ],
        active_adapter=info.active_adapter,
        max_context_tokens=info.max_context_tokens,
    )


class ModelRpcs:
    """LoadAdapter, UnloadAdapter and GetModelInfo over a ServedModel, for any model servicer."""

    def __init__(self, model: ServedModel):
        self._model = model

    async def load_adapter(self, request: pb.LoadAdapterRequest) -> pb.LoadAdapterResponse:
        ref = request.adapter
        info = await self._model.load_adapter(
            ref.name,
            ref.uri,
            version=ref.version,
            base_model=ref.base_model,
            activate=request.activate,
        )
        return pb.LoadAdapterResponse(model=model_info_to_pb(info))

    async def unload_adapter(self, request: pb.UnloadAdapterRequest) -> pb.UnloadAdapterResponse:
        info = await self._model.unload_adapter(request.name)
        return pb.UnloadAdapterResponse(model=model_info_to_pb(info))

    async def get_model_info(self, request: pb.GetModelInfoRequest) -> pb.ModelInfo:
        return model_info_to_pb(self._model.info())


def run_model_service(
    service: str,
    settings_cls: type[S],
    registration: Callable[[ServedModel, S], Registration],
    argv: Sequence[str] | None = None,
) -> int:
    """The whole `main()` of a model service (a3t.rpc.server.run_service): settings loaded and
    checked, then `registration(model, settings)` (the service's core and servicer over its
    ServedModel) served until SIGTERM. The engine is built in the start hook, so health turns
    SERVING only once the model is loaded (local) or its server answers (tgi/openai)."""

    async def run(settings: S) -> None:
        model = ServedModel(service, settings.artifact_root)

        async def start() -> None:
            model.attach(await build_engine(settings.engine_spec()))
            info = model.info()
            log.info(
                "%s model ready: engine=%s base=%s device=%s dtype=%s context=%d",
                service,
                info.engine,
                info.base_model,
                info.device or "-",
                info.dtype or "-",
                info.max_context_tokens,
            )

        await serve(
            service,
            [registration(model, settings)],
            host=settings.host,
            port=settings.port,
            metrics_port=settings.metrics_port,
            grace_seconds=settings.grace_seconds,
            start=start,
            stop=model.close,
        )

    return run_service(service, settings_cls, run, argv)
