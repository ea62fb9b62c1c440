"""Settings of the controller service, and the experiment config (what one A3T run does).

`ExperimentConfig` holds DESIGN.md's round defaults; `a3t run` and CreateExperiment fill it from
YAML + flags. Every problem is reported at once (ConfigError).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a3t.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SELECTORS = ("env", "critic", "hybrid")
# Exploration attempts per failed task, by env (DESIGN.md step 2).
DEFAULT_EXPLORE_ATTEMPTS = {"alfworld": 40, "webshop": 20, "apibank": 8}


@dataclass(frozen=True)
class ControllerSettings:
    """a3t controller service: drives rounds, keeps every trajectory in SQLite."""

    host: str = "127.0.0.1"
    port: int = 50056
    metrics_port: int = 9106
    grace_seconds: float = 10.0
    log_level: str = "INFO"
    # The SQLite trajectory store.
    db_path: Path = Path("var/a3t.sqlite")
    # Where datasets and adapters are written (shared storage in a cluster).
    artifacts_dir: Path = Path("var/artifacts")
    env_target: str = "127.0.0.1:50051"
    policy_target: str = "127.0.0.1:50052"
    actre_target: str = "127.0.0.1:50053"
    critic_target: str = ""
    trainer_target: str = "127.0.0.1:50055"

    def problems(self) -> list[str]:
        found = []
        for name in ("port", "metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                found.append(f"{name} must be in 0..65535, got {getattr(self, name)}")
        for name in ("env_target", "policy_target", "trainer_target"):
            if not getattr(self, name):
                found.append(f"{name} must be host:port of the {name[:-7]} service")
        return found


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: which tasks, how many rounds, how to explore, select and train."""

    name: str = "a3t"
    env: str = "alfworld"
    train_split: str = "train"
    eval_split: str = "valid_seen"
    rounds: int = 4
    max_train_tasks: int = 0  # 0 = all tasks of the split
    max_eval_tasks: int = 0
    max_steps: int = 50
    # --- exploration (DESIGN.md step 2)
    explore_attempts: int = 0  # K; 0 = env default (ALFWorld 40, WebShop 20)
    # p per round; the last value holds for later rounds (a schedule, e.g. [1.0, 0.5, 0.1]).
    explore_probability: tuple[float, ...] = (0.1,)
    invalid_limit: int = 3
    max_positives_per_task: int = 5
    stop_at_first_success: bool = False  # WebShop's rule; ALFWorld collects up to the cap
    concurrency: int = 4
    # --- selection (step 3)
    selector: str = "env"
    critic_threshold: float = 7.0
    critic_top_fraction: float = 0.5
    critic_per_task_cap: int = 2
    # --- ablations and baselines
    use_actre: bool = True  # False: no-ActRe baseline, exploration by temperature sampling
    self_actre: bool = False  # the policy model answers the ActRe prompt (recorded only)
    sft_only: bool = False  # positives only, no negative term
    real_valued_reward: bool = False  # mean-baseline weights from real rewards, not binarised
    # --- training (step 5)
    base_model: str = "smollm2"
    epochs_first_round: int = 10
    epochs_later_rounds: int = 6
    learning_rate: float = 1e-4
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    quantize_4bit: bool = False
    include_observation_tokens: bool = False
    continue_from_previous_adapter: bool = False
    seed: int = 0

    def explore_probability_at(self, round_: int) -> float:
        schedule = self.explore_probability
        return schedule[min(round_, len(schedule) - 1)]

    def explore_attempts_for_env(self) -> int:
        return self.explore_attempts or DEFAULT_EXPLORE_ATTEMPTS.get(self.env, 20)

    def epochs_for(self, round_: int) -> int:
        return self.epochs_first_round if round_ == 0 else self.epochs_later_rounds

    def problems(self) -> list[str]:
        found = []
        if not NAME.match(self.name):
            found.append(f"name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        if self.train_split == self.eval_split:
            found.append(
                f"train_split and eval_split are both {self.train_split!r}: held-out tasks "
                "must never be trained on"
            )
        if self.rounds < 1:
            found.append(f"rounds must be >= 1, got {self.rounds}")
        if self.max_steps < 1:
            found.append(f"max_steps must be >= 1, got {self.max_steps}")
        if not self.explore_probability or any(not 0 <= p <= 1 for p in self.explore_probability):
            found.append(
                f"explore_probability must be a non-empty list of values in [0, 1], got "
                f"{list(self.explore_probability)}"
            )
        if self.explore_attempts < 0:
            found.append(f"explore_attempts must be >= 0, got {self.explore_attempts}")
        if self.max_positives_per_task < 1:
            found.append(f"max_positives_per_task must be >= 1, got {self.max_positives_per_task}")
        if self.concurrency < 1:
            found.append(f"concurrency must be >= 1, got {self.concurrency}")
        if self.selector not in SELECTORS:
            found.append(f"selector must be one of {SELECTORS}, got {self.selector!r}")
        if not 0 < self.critic_top_fraction <= 1:
            found.append(f"critic_top_fraction must be in (0, 1], got {self.critic_top_fraction}")
        if self.epochs_first_round < 1 or self.epochs_later_rounds < 1:
            found.append("epochs_first_round and epochs_later_rounds must be >= 1")
        if self.learning_rate <= 0:
            found.append(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("max_train_tasks", "max_eval_tasks"):
            if getattr(self, name) < 0:
                found.append(f"{name} must be >= 0, got {getattr(self, name)}")
        return found

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError([f"unknown experiment config keys {unknown}"])
        values = dict(data)
        for key in ("explore_probability", "lora_target_modules"):
            if key in values:
                values[key] = tuple(values[key])
        config = cls(**values)
        if found := config.problems():
            raise ConfigError(found)
        return config
