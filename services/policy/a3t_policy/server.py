"""gRPC servicer of the policy service: translates requests to PolicyCore calls and back;
`registration` gives serve() the core and servicer over the service's model."""

from __future__ import annotations

from a3t.common.v1 import types_pb2
from a3t.convert import source_to_pb, step_from_pb, task_from_pb, usage_to_pb
from a3t.inference.served import ServedModel
from a3t.model_service import ModelRpcs, params_from_pb
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.rpc.server import Registration
from a3t_policy.config import PolicySettings
from a3t_policy.core import PolicyCore


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, core: PolicyCore):
        self._core = core
        self._model = ModelRpcs(core.model)

    async def Act(self, request: policy_pb2.ActRequest, context) -> policy_pb2.ActResponse:
        result = await self._core.act(
            task=task_from_pb(request.task),
            initial_observation=request.initial_observation,
            history=tuple(step_from_pb(s) for s in request.history),
            params=params_from_pb(request.params, self._core.settings.max_new_tokens),
            admissible=tuple(request.admissible_actions),
            episode_id=request.episode_id,
            adapter=request.adapter,
            ground=request.ground_actions,
        )
        return policy_pb2.ActResponse(
            thought=result.thought,
            action=result.action,
            raw_text=result.raw_text,
            usage=usage_to_pb(result.usage),
            source=source_to_pb(result.source),
            replaced_action=result.replaced_action,
            adapter=result.adapter,
        )

    async def EndEpisode(
        self, request: policy_pb2.EndEpisodeRequest, context
    ) -> policy_pb2.EndEpisodeResponse:
        return policy_pb2.EndEpisodeResponse(released=self._core.end_episode(request.episode_id))

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


def registration(model: ServedModel, settings: PolicySettings) -> Registration:
    """The policy service as serve() registers it: its core and servicer over `model`."""
    return Registration(
        policy_pb2_grpc.add_PolicyServiceServicer_to_server,
        PolicyServicer(PolicyCore(model, settings)),
        policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name,
    )
