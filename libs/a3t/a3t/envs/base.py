"""What an environment plugin is: the engine protocol the env service runs, and the prompting and
controller defaults every other service reads.

An environment is one folder `a3t/envs/<name>/` whose `__init__.py` defines `SPEC` (an `EnvSpec`)
and one line in `a3t.envs.ENVIRONMENTS`. The env service loads the engine named by `SPEC.engine`
(imported only there, so the policy, ActRe, critic and trainer never import an engine's
dependencies); everything else reads the spec. docs/environments.md walks through an example.

No grpc here: plain values in and out, a3t.errors raised for bad input.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from a3t.errors import InvalidArgument, quote
from a3t.inference.base import ChatMessage
from a3t.trajectory import Step

# Split names become directory names: letters, digits, '_' and '-' only (\Z, not $: "x\n" is
# refused).
SPLIT_NAME = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


def check_split_name(split: str) -> None:
    """InvalidArgument unless `split` is a plain name (never a path, never over 64 characters)."""
    if not SPLIT_NAME.match(split):
        raise InvalidArgument(
            f"split {quote(split)} must be 1-64 letters, digits, '_' or '-' (it names a directory)"
        )


@dataclass(frozen=True)
class GameState:
    """What the agent sees after a reset or a step."""

    observation: str
    admissible: tuple[str, ...]  # actions the environment accepts now
    reward: float  # this step's reward (ALFWorld: 1.0 on the winning step; WebShop: at purchase)
    done: bool  # the episode is over (won, bought, or the env ended it)
    won: bool  # the binarised success (ALFWorld: goal reached; WebShop: reward == 1.0)


@dataclass(frozen=True)
class TaskRecord:
    """One task of a split, as the engine lists it."""

    task_id: str  # stable within the split; what clients name the task by
    task_type: str  # for per-type reporting (ALFWorld: the task family; WebShop: the category)
    split: str
    ref: str  # what `Environment.load` needs to load it (a file path, a goal index, ...)


class Game(Protocol):
    """One loaded task, played one episode at a time (not thread-safe)."""

    def reset(self) -> tuple[str, GameState]:
        """Starts a new episode: (instruction, first state)."""
        ...

    def step(self, action: str) -> GameState:
        """Plays one action. An action the environment cannot carry out is a normal step answered
        the way the environment does, never an exception; stepping a finished episode raises
        FailedPrecondition."""
        ...


class Environment(Protocol):
    """An environment's engine. Built once per process with its data root; `list_tasks` and
    `generate` run in the env server, `load` in the worker processes that play games."""

    def list_tasks(self, split: str) -> list[TaskRecord]:
        """The tasks of a split sorted by task_id; NotFound naming the known splits if unknown."""
        ...

    def load(self, task: TaskRecord) -> Game:
        """Loads one task; FailedPrecondition when its data is unusable."""
        ...

    def generate(
        self, split: str, level: int, seed: int, count: int, task_types: tuple[str, ...]
    ) -> int:
        """Writes a new split of generated tasks under the data root and returns its size. The
        same arguments give the same tasks; a split holding other tasks is refused
        (FailedPrecondition). Unimplemented when the environment has no generator."""
        ...

    def warm_up(self) -> None:
        """Imports what playing needs (called in a worker before it reports ready)."""
        ...


class EnvFactory(Protocol):
    def __call__(self, data_root: Path) -> Environment: ...


@dataclass(frozen=True)
class EpisodeExample:
    """A worked episode for a 1-shot prompt: the first observation and (thought, action,
    observation) per step, in the environment's own wording."""

    observation: str
    steps: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class ActReExample:
    """A worked ActRe answer: the transcript so far, the action taken next, and why."""

    transcript: str
    action: str
    rationale: str


@dataclass(frozen=True)
class EnvPrompts:
    """Everything the model services and the trainer need to talk about this environment."""

    policy_system: str
    # 1-shot exemplar per task type; the key "" is the fallback for any other task type.
    examples: dict[str, EpisodeExample]
    actre_system: str
    actre_examples: tuple[ActReExample, ...]
    critic_rubric: str  # a rubric name of a3t.prompts.RUBRICS, used when a request names none
    # Lines that begin the environment's answer (or a new chat turn) rather than the agent's
    # step: small models run on and write the next observation, so the policy's parser stops at
    # the first such line after the step. Matched case-insensitively at the line start.
    observation_starts: tuple[str, ...] = ()

    def example(self, task_type: str) -> EpisodeExample | None:
        return self.examples.get(task_type) or self.examples.get("")

    def exemplar_messages(self, task_type: str) -> list[ChatMessage]:
        """The 1-shot exemplar as chat turns, in the one ReAct format; [] when there is none."""
        from a3t.inference.chat import format_step

        example = self.example(task_type)
        if example is None:
            return []
        messages = [ChatMessage("user", example.observation)]
        for thought, action, observation in example.steps:
            messages.append(ChatMessage("assistant", format_step(Step(action, thought=thought))))
            messages.append(ChatMessage("user", observation))
        return messages

    def observation_start(self) -> re.Pattern[str]:
        words = "|".join(re.escape(w) for w in self.observation_starts)
        return re.compile(rf"^({words})" if words else r"(?!)", re.IGNORECASE)


# The most tasks one GenerateTasks call may ask for (env.proto): past it a client could hold a
# generator, and every later request for that split, for tens of seconds (14761 WebShop goals).
MAX_GENERATED_TASKS = 10_000


@dataclass(frozen=True)
class EnvDefaults:
    """The controller's defaults for this environment (DESIGN.md, the round); an experiment's
    config overrides each."""

    max_steps: int = 50
    explore_attempts: int = 20  # K: exploration attempts per failed task
    stop_at_first_success: bool = False
    # First words of actions uniform exploration never samples (commands that change nothing).
    explore_skip_verbs: tuple[str, ...] = ()
    # When set, exploration samples only actions starting with one of these (WebShop: clicks,
    # never a random search text); where none matches, the policy acts.
    explore_only_prefixes: tuple[str, ...] = ()
    # p, the probability that a step is explored, per round (the last value holds after).
    explore_probability: tuple[float, ...] = (0.1,)
    # Explore with sampled admissible actions explained by ActRe (A3T). False: the policy's own
    # samples at a temperature, for envs whose actions cannot be enumerated (API-Bank's
    # requests): the experiment's use_actre default.
    explore_with_actre: bool = True
    # Follow every observation with the actions exploration could sample there, in what is
    # stored, trained on and shown to the policy (the experiment's show_admissible default).
    show_admissible: bool = False


@dataclass(frozen=True)
class EnvSpec:
    """One environment plugin."""

    name: str
    engine: str  # "module:callable" building the Environment from its data root (env service)
    prompts: EnvPrompts
    defaults: EnvDefaults = field(default_factory=EnvDefaults)
    max_action_chars: int = 256  # default limit on one action's length (env setting overrides)
    # The env's reward is a real-valued score (WebShop): reports show its mean x 100 beside the
    # success rate, as the env's papers do.
    mean_score: bool = False
    # Judges one rationale (a synthesised step's thought) against what the agent had seen:
    # (initial observation, the steps before it, the step) -> why it is not grounded, "" when
    # it is. The controller reports the share grounded per round; None: not measured.
    rationale_check: Callable[[str, Sequence[Step], Step], str] | None = None

    def environment(self, data_root: Path) -> Environment:
        """Imports the engine (heavy dependencies load here, in the env service only)."""
        module, _, attr = self.engine.partition(":")
        factory: EnvFactory = getattr(importlib.import_module(module), attr)
        return factory(Path(data_root))


def explorable(
    admissible: Sequence[str], skip_verbs: Sequence[str], only_prefixes: Sequence[str] = ()
) -> list[str]:
    """The admissible actions uniform exploration samples from, sorted (so a seeded draw does not
    depend on the order the env listed them): with `only_prefixes`, only actions starting with
    one of them ([] when none does: the policy acts then); less those whose first word is in
    `skip_verbs`, unless that leaves nothing."""
    pool = sorted(admissible)
    if only_prefixes:
        pool = [a for a in pool if a.startswith(tuple(only_prefixes))]
    skip = set(skip_verbs)
    return [a for a in pool if (a.split(maxsplit=1) or [""])[0] not in skip] or pool
