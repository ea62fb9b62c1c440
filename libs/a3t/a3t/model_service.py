"""The gRPC side the policy, ActRe and critic services share: adapter and model-info RPCs, request
parameter conversion, common settings checks, and the serve loop with the engine loaded at start.

Each service's servicer composes a `ModelRpcs` and forwards LoadAdapter, UnloadAdapter and
GetModelInfo to it (composition: servicers inherit only from their generated base).
"""

from __future__ import annotations

import logging

from a3t.common.v1 import types_pb2 as pb
from a3t.inference.base import EngineInfo, GenerationParams
from a3t.inference.factory import EngineSpec, build_engine
from a3t.inference.served import ServedModel
from a3t.rpc.server import Registration, serve

log = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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


def serving_problems(
    port: int, metrics_port: int, log_level: str, max_new_tokens: int, spec: EngineSpec
) -> list[str]:
    """The checks every model service's settings share (each adds its own)."""
    found = []
    if not 0 <= port <= 65535:
        found.append(f"port must be in 0..65535, got {port}")
    if not 0 <= metrics_port <= 65535:
        found.append(f"metrics_port must be in 0..65535, got {metrics_port}")
    if log_level.upper() not in LOG_LEVELS:
        found.append(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    if max_new_tokens < 1:
        found.append(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    found.extend(spec.problems())
    return found


async def serve_model_service(
    service: str,
    model: ServedModel,
    registration: Registration,
    spec: EngineSpec,
    *,
    host: str,
    port: int,
    metrics_port: int,
    grace_seconds: float,
) -> None:
    """Serves until SIGTERM; the engine is built in the start hook, so health turns SERVING only
    once the model is loaded (local) or its server answers (tgi/openai)."""

    async def start() -> None:
        model.attach(await build_engine(spec))
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

    async def stop() -> None:
        await model.close()

    await serve(
        service,
        [registration],
        host=host,
        port=port,
        metrics_port=metrics_port,
        grace_seconds=grace_seconds,
        start=start,
        stop=stop,
    )
