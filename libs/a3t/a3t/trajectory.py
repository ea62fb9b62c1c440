"""Trajectory value types: tasks, steps and episodes as frozen dataclasses.

These are what core code passes around (services' core.py never sees protobuf). They round-trip
losslessly through JSON (`to_json` / `from_json`) for the trajectory store and datasets, and through
protobuf (`a3t.convert`) at the gRPC edge.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from a3t.errors import InvalidArgument


class StepSource(enum.Enum):
    """Where a step's thought and action came from (mirrors a3t.common.v1.StepSource)."""

    POLICY = "policy"
    SAMPLED = "sampled"  # action sampled during exploration, thought written by ActRe
    FORCED = "forced"  # like SAMPLED, forced after repeated invalid actions
    GROUNDED = "grounded"  # non-admissible action replaced by the best-scored admissible one
    TEMPERATURE = "temperature"  # no-ActRe baseline: action drawn by temperature sampling

    @property
    def synthesised(self) -> bool:
        """True for steps whose thought was written after the action was chosen (ActRe)."""
        return self in (StepSource.SAMPLED, StepSource.FORCED)


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class Task:
    env: str
    task_id: str
    split: str = ""
    task_type: str = ""
    instruction: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One agent step (thought + action) and the observation that answered it."""

    action: str
    observation: str = ""
    thought: str = ""
    reward: float = 0.0
    done: bool = False
    source: StepSource = StepSource.POLICY
    raw_text: str = ""
    replaced_action: str = ""
    admissible: bool = True
    usage: TokenUsage = field(default_factory=TokenUsage)


@dataclass(frozen=True)
class Trajectory:
    task: Task
    initial_observation: str
    steps: tuple[Step, ...] = ()
    won: bool = False
    reward: float = 0.0
    trajectory_id: str = ""
    policy_adapter: str = ""
    round: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    def with_step(self, step: Step) -> Trajectory:
        return replace(self, steps=(*self.steps, step))

    @property
    def synthesised_steps(self) -> int:
        return sum(step.source.synthesised for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [{**s, "source": s["source"].value} for s in data["steps"]]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        """Builds a trajectory from `to_dict` output; unknown or missing keys are errors."""
        try:
            _check_keys(cls, data, "trajectory")
            _check_keys(Task, data["task"], "trajectory.task")
            steps = []
            for i, raw in enumerate(data.get("steps", [])):
                _check_keys(Step, raw, f"trajectory.steps[{i}]")
                raw = dict(raw)
                raw["source"] = StepSource(raw.get("source", "policy"))
                raw["usage"] = TokenUsage(**raw.get("usage", {}))
                steps.append(Step(**raw))
            return cls(
                **{k: v for k, v in data.items() if k not in ("task", "steps")},
                task=Task(**data["task"]),
                steps=tuple(steps),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise InvalidArgument(f"trajectory does not parse: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> Trajectory:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"trajectory is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument("trajectory JSON must be an object")
        return cls.from_dict(data)


def _check_keys(cls: type, data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where} must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidArgument(f"{where} has unknown keys {unknown}; known keys are {sorted(known)}")
