"""The controller's interfaces to the services it drives, and the values they exchange.

The round loop (a3t_controller.rounds) and the episode runner (a3t_controller.episode) reach the
env, policy, ActRe, critic and trainer services only through these Protocols, so their logic is
unit-tested with in-memory fakes (tests/unit/controller/fakes.py); the controller passes the
gRPC-backed clients of a3t_controller.clients. A rollout that a service refuses is reported by
raising a3t_controller.episode.RolloutFailed (or EpisodeInterrupted when the env lost it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from a3t.trajectory import Step, StepSource, Task, TokenUsage, Trajectory

# --- the env service


@dataclass(frozen=True)
class SessionView:
    """A new env session: its first observation and the actions admissible there."""

    session_id: str
    task: Task
    observation: str
    admissible: tuple[str, ...]


@dataclass(frozen=True)
class EnvAnswer:
    """What one env step answered; an empty `admissible` means the env takes free text."""

    observation: str
    reward: float
    done: bool
    won: bool
    admissible: tuple[str, ...]


class EnvClient(Protocol):
    async def create(self, env: str, split: str, task_id: str) -> SessionView: ...
    async def step(self, session_id: str, action: str) -> EnvAnswer: ...
    async def close(self, session_id: str) -> None: ...


class TaskLister(Protocol):
    async def list_tasks(self, env: str, split: str) -> list[Task]: ...

    # Makes a split of generated tasks (idempotent); returns its size. Used by the curriculum.
    async def generate(self, env: str, split: str, level: int, seed: int, count: int) -> int: ...


# --- the model services: policy, ActRe, critic


@dataclass(frozen=True)
class PolicyAnswer:
    """The policy's next step. `replaced_action`: the generated text when action grounding
    replaced it by an admissible action (`source` GROUNDED)."""

    thought: str
    action: str
    raw_text: str
    usage: TokenUsage
    source: StepSource = StepSource.POLICY
    replaced_action: str = ""


class PolicyClient(Protocol):
    # `ground_actions`: ask the policy to ground a non-admissible action (True) or not (False)
    # for this step; None = the client's own setting (`a3t run --ground-actions`). A policy
    # service whose own settings ground every caller grounds either way (a3t_policy.config).
    async def act(
        self,
        episode_id: str,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        admissible: Sequence[str],
        *,
        temperature: float,
        seed: int,
        adapter: str,
        ground_actions: bool | None = None,
    ) -> PolicyAnswer: ...

    async def end_episode(self, episode_id: str) -> None: ...


class ActReClient(Protocol):
    async def explain(
        self,
        episode_id: str,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        action: str,
    ) -> tuple[str, TokenUsage]: ...

    async def end_episode(self, episode_id: str) -> None: ...


class CriticClient(Protocol):
    # The score (None when the critic's answer could not be parsed) and the critic's verdict.
    async def score(self, traj: Trajectory) -> tuple[float | None, str]: ...


class AdapterLoader(Protocol):
    async def load_adapter(self, name: str, uri: str) -> None: ...


# --- the trainer service


@dataclass(frozen=True)
class TrainRequest:
    """One training run: exactly what the trainer is told (a3t.trainer.v1.TrainingSpec), built
    by the round loop from the experiment's config."""

    request_id: str  # idempotency key: the trainer answers a known one with that run
    base_model: str
    dataset_uri: str
    output_uri: str
    adapter_name: str
    adapter_version: int
    round: int
    epochs: int
    init_adapter_uri: str  # "" = a fresh LoRA
    learning_rate: float
    lora_rank: int
    lora_alpha: int
    lora_target_modules: tuple[str, ...]
    quantize_4bit: bool
    include_observation_tokens: bool
    seed: int


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    adapter_uri: str
    metrics: dict[str, float]


class TrainerClient(Protocol):
    # `on_progress(step, total_steps, message)` is called as the run reports progress.
    async def train(
        self, request: TrainRequest, on_progress: Callable[[int, int, str], None]
    ) -> TrainResult: ...


@dataclass(frozen=True)
class Services:
    """Every service one controller drives; `actre`, `actre_adapters` and `critic` are None
    where the controller was given no such service (an experiment that needs one fails, naming
    it)."""

    env: EnvClient
    tasks: TaskLister
    policy: PolicyClient
    policy_adapters: AdapterLoader
    actre: ActReClient | None
    actre_adapters: AdapterLoader | None
    trainer: TrainerClient
    critic: CriticClient | None = None
