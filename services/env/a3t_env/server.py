"""gRPC servicer of the env service: translates requests to EnvCore calls and back, nothing more."""

from __future__ import annotations

from a3t.convert import task_to_pb
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t_env.core import EnvCore


class EnvServicer(env_pb2_grpc.EnvServiceServicer):
    def __init__(self, core: EnvCore):
        self._core = core

    async def ListTasks(
        self, request: env_pb2.ListTasksRequest, context
    ) -> env_pb2.ListTasksResponse:
        page = self._core.list_tasks(
            request.env, request.split, request.page_size, request.page_token
        )
        return env_pb2.ListTasksResponse(
            tasks=[task_to_pb(t) for t in page.tasks],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def CreateSession(
        self, request: env_pb2.CreateSessionRequest, context
    ) -> env_pb2.CreateSessionResponse:
        which = request.WhichOneof("task")
        start = await self._core.create_session(
            request.env,
            request.split,
            task_id=request.task_id if which == "task_id" else None,
            index=request.index if which == "index" else None,
            request_id=request.request_id,
        )
        return env_pb2.CreateSessionResponse(
            session_id=start.session_id,
            task=task_to_pb(start.task),
            observation=start.observation,
            admissible_actions=start.admissible,
            ttl_seconds=int(start.ttl_seconds),
        )

    async def Step(self, request: env_pb2.StepRequest, context) -> env_pb2.StepResponse:
        out = await self._core.step(request.session_id, request.action)
        return env_pb2.StepResponse(
            observation=out.observation,
            reward=out.reward,
            done=out.done,
            won=out.won,
            admissible_actions=out.admissible,
            step_index=out.step_index,
            admissible=out.admissible_before,
        )

    async def CloseSession(
        self, request: env_pb2.CloseSessionRequest, context
    ) -> env_pb2.CloseSessionResponse:
        steps, won = await self._core.close_session(request.session_id)
        return env_pb2.CloseSessionResponse(steps_taken=steps, won=won)

    async def GenerateTasks(
        self, request: env_pb2.GenerateTasksRequest, context
    ) -> env_pb2.GenerateTasksResponse:
        total = await self._core.generate_tasks(
            request.env,
            request.split,
            request.level,
            request.seed,
            request.count,
            tuple(request.task_types),
        )
        return env_pb2.GenerateTasksResponse(split=request.split, total_size=total)
