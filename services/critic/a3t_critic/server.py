"""gRPC servicer of the critic service: translates requests to CriticCore calls and back;
`registration` gives serve() the core and servicer over the service's model."""

from __future__ import annotations

from a3t.common.v1 import types_pb2
from a3t.convert import trajectory_from_pb, usage_to_pb
from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
from a3t.inference.served import ServedModel
from a3t.model_service import ModelRpcs, params_from_pb
from a3t.rpc.server import Registration
from a3t_critic.config import CriticSettings
from a3t_critic.core import CriticCore


class CriticServicer(critic_pb2_grpc.CriticServiceServicer):
    def __init__(self, core: CriticCore):
        self._core = core
        self._model = ModelRpcs(core.model)

    async def Score(self, request: critic_pb2.ScoreRequest, context) -> critic_pb2.ScoreResponse:
        result = await self._core.score(
            trajectory_from_pb(request.trajectory),
            params_from_pb(request.params, self._core.settings.max_new_tokens),
            rubric=request.rubric,
        )
        response = critic_pb2.ScoreResponse(
            raw_text=result.raw_text, usage=usage_to_pb(result.usage)
        )
        if result.verdict is None:
            response.status = critic_pb2.SCORE_STATUS_UNPARSEABLE  # score stays unset
        else:
            response.status = critic_pb2.SCORE_STATUS_OK
            response.score = result.verdict.score
            response.verdict = result.verdict.verdict
            response.reasons.extend(result.verdict.reasons)
        return response

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


def registration(model: ServedModel, settings: CriticSettings) -> Registration:
    """The critic service as serve() registers it: its core and servicer over `model`."""
    return Registration(
        critic_pb2_grpc.add_CriticServiceServicer_to_server,
        CriticServicer(CriticCore(model, settings, settings.rubrics())),
        critic_pb2.DESCRIPTOR.services_by_name["CriticService"].full_name,
    )
