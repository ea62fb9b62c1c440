"""Conversion between the trajectory dataclasses (a3t.trajectory) and a3t.common.v1 protobufs.

Only servers and clients call this: core code never sees protobuf. Round trips are lossless.
"""

from __future__ import annotations

from a3t.common.v1 import types_pb2 as pb
from a3t.trajectory import Step, StepSource, Task, TokenUsage, Trajectory

_SOURCE_TO_PB = {
    StepSource.POLICY: pb.STEP_SOURCE_POLICY,
    StepSource.SAMPLED: pb.STEP_SOURCE_SAMPLED,
    StepSource.FORCED: pb.STEP_SOURCE_FORCED,
    StepSource.GROUNDED: pb.STEP_SOURCE_GROUNDED,
    StepSource.TEMPERATURE: pb.STEP_SOURCE_TEMPERATURE,
}
# UNSPECIFIED reads as POLICY, as the proto documents.
_SOURCE_FROM_PB = {v: k for k, v in _SOURCE_TO_PB.items()} | {
    pb.STEP_SOURCE_UNSPECIFIED: StepSource.POLICY
}


def source_to_pb(source: StepSource) -> pb.StepSource:
    return _SOURCE_TO_PB[source]


def source_from_pb(value: pb.StepSource) -> StepSource:
    return _SOURCE_FROM_PB[value]


def usage_to_pb(usage: TokenUsage) -> pb.TokenUsage:
    return pb.TokenUsage(
        prompt_tokens=usage.prompt_tokens,
        cached_prompt_tokens=usage.cached_prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


def usage_from_pb(msg: pb.TokenUsage) -> TokenUsage:
    return TokenUsage(msg.prompt_tokens, msg.cached_prompt_tokens, msg.completion_tokens)


def task_to_pb(task: Task) -> pb.Task:
    return pb.Task(
        env=task.env,
        task_id=task.task_id,
        split=task.split,
        task_type=task.task_type,
        instruction=task.instruction,
        metadata=dict(task.metadata),
    )


def task_from_pb(msg: pb.Task) -> Task:
    return Task(
        env=msg.env,
        task_id=msg.task_id,
        split=msg.split,
        task_type=msg.task_type,
        instruction=msg.instruction,
        metadata=dict(msg.metadata),
    )


def step_to_pb(step: Step) -> pb.Step:
    return pb.Step(
        thought=step.thought,
        action=step.action,
        observation=step.observation,
        reward=step.reward,
        done=step.done,
        source=source_to_pb(step.source),
        raw_text=step.raw_text,
        replaced_action=step.replaced_action,
        admissible=step.admissible,
        usage=usage_to_pb(step.usage),
    )


def step_from_pb(msg: pb.Step) -> Step:
    return Step(
        thought=msg.thought,
        action=msg.action,
        observation=msg.observation,
        reward=msg.reward,
        done=msg.done,
        source=source_from_pb(msg.source),
        raw_text=msg.raw_text,
        replaced_action=msg.replaced_action,
        admissible=msg.admissible,
        usage=usage_from_pb(msg.usage),
    )


def trajectory_to_pb(traj: Trajectory) -> pb.Trajectory:
    return pb.Trajectory(
        trajectory_id=traj.trajectory_id,
        task=task_to_pb(traj.task),
        initial_observation=traj.initial_observation,
        steps=[step_to_pb(s) for s in traj.steps],
        won=traj.won,
        reward=traj.reward,
        policy_adapter=traj.policy_adapter,
        round=traj.round,
        metadata=dict(traj.metadata),
    )


def trajectory_from_pb(msg: pb.Trajectory) -> Trajectory:
    return Trajectory(
        trajectory_id=msg.trajectory_id,
        task=task_from_pb(msg.task),
        initial_observation=msg.initial_observation,
        steps=tuple(step_from_pb(s) for s in msg.steps),
        won=msg.won,
        reward=msg.reward,
        policy_adapter=msg.policy_adapter,
        round=msg.round,
        metadata=dict(msg.metadata),
    )
