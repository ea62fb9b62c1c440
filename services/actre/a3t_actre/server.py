"""gRPC servicer of the ActRe service: translates requests to ActReCore calls and back;
`registration` gives serve() the core and servicer over the service's model."""

from __future__ import annotations

from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
from a3t.common.v1 import types_pb2
from a3t.convert import step_from_pb, task_from_pb, usage_to_pb
from a3t.inference.served import ServedModel
from a3t.model_service import ModelRpcs, params_from_pb
from a3t.rpc.server import Registration
from a3t_actre.config import ActReSettings
from a3t_actre.core import ActReCore


class ActReServicer(actre_pb2_grpc.ActReServiceServicer):
    def __init__(self, core: ActReCore):
        self._core = core
        self._model = ModelRpcs(core.model)

    async def Explain(
        self, request: actre_pb2.ExplainRequest, context
    ) -> actre_pb2.ExplainResponse:
        out = await self._core.explain(
            task=task_from_pb(request.task),
            initial_observation=request.initial_observation,
            history=tuple(step_from_pb(s) for s in request.history),
            action=request.action,
            params=params_from_pb(request.params, self._core.settings.max_new_tokens),
            adapter=request.adapter,
            episode_id=request.episode_id,
        )
        return actre_pb2.ExplainResponse(
            rationale=out.rationale, raw_text=out.raw_text, usage=usage_to_pb(out.usage)
        )

    async def EndEpisode(
        self, request: actre_pb2.EndEpisodeRequest, context
    ) -> actre_pb2.EndEpisodeResponse:
        return actre_pb2.EndEpisodeResponse(released=self._core.end_episode(request.episode_id))

    async def LoadAdapter(
        self, request: types_pb2.LoadAdapterRequest, context
    ) -> types_pb2.LoadAdapterResponse:
        return await self._model.load_adapter(request)

    async def UnloadAdapter(
        self, request: types_pb2.UnloadAdapterRequest, context
    ) -> types_pb2.UnloadAdapterResponse:
        return await self._model.unload_adapter(request)

    async def GetModelInfo(
        self, request: types_pb2.GetModelInfoRequest, context
    ) -> types_pb2.ModelInfo:
        return await self._model.get_model_info(request)


def registration(model: ServedModel, settings: ActReSettings) -> Registration:
    """The actre service as serve() registers it: its core and servicer over `model`."""
    return Registration(
        actre_pb2_grpc.add_ActReServiceServicer_to_server,
        ActReServicer(ActReCore(model, settings)),
        actre_pb2.DESCRIPTOR.services_by_name["ActReService"].full_name,
    )
