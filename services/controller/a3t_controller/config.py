"""Settings of the controller service, and the experiment config (what one A3T run does).

`ExperimentConfig` holds DESIGN.md's round defaults; `a3t run` and CreateExperiment fill it from
YAML + flags. Every problem is reported at once (ConfigError).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from a3t.envs import ENVIRONMENTS
from a3t.envs.base import MAX_GENERATED_TASKS
from a3t.errors import ConfigError, InvalidArgument, quote

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Who writes the sampled steps' rationales (ExperimentConfig.rationale).
RATIONALES = ("actre", "template")
# a3t_controller.select: env, critic and both (hybrid); oracle and random measure the critic.
SELECTORS = ("env", "critic", "hybrid", "oracle", "random")
# Selectors of the critic loop (issue 12): they train with SFT on what they keep (the critic
# paper's update) unless the config sets sft_only.
SFT_SELECTORS = ("critic", "oracle", "random")
# Fields whose default is the env plugin's (a3t.envs.<env>.SPEC.defaults), each with the
# EnvDefaults field it comes from: from_dict fills each from the experiment's env unless the
# config sets it.
ENV_DEFAULTED = {
    "max_steps": "max_steps",
    "explore_attempts": "explore_attempts",
    "stop_at_first_success": "stop_at_first_success",
    "explore_skip_verbs": "explore_skip_verbs",
    "explore_only_prefixes": "explore_only_prefixes",
    "explore_probability": "explore_probability",
    "use_actre": "explore_with_actre",
    "show_admissible": "show_admissible",
}
# Fields that decide what round 0 attempts and explores: an experiment forked from another's
# explored data (a3t run --fork-from) must match on all of them.
EXPLORE_FIELDS = (
    "env",
    "train_split",
    "eval_split",
    "max_train_tasks",
    "max_eval_tasks",
    "max_steps",
    "explore_attempts",
    "explore_wins",
    "explore_step_budget",
    "explore_probability",
    "invalid_limit",
    "explore_skip_verbs",
    "explore_only_prefixes",
    "show_admissible",
    "stop_at_first_success",
    "use_actre",
    "curriculum_levels",
    "base_model",
    "seed",
)
# Difficulty levels of the env's game generator (a3t.envs.alfworld.gen.LEVELS), easiest first:
# level 5 (level 1's tasks, starting in the middle of a 3-receptacle room) was added after 2.
GENERATED_LEVELS = (1, 5, 2, 3, 4)


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
    # How long one call waits for a service that does not answer (down, restarting, swapped)
    # before the experiment fails (resumable); a3t_controller.patience.
    service_wait_seconds: float = 600.0

    def problems(self) -> list[str]:
        found = []
        if not 0 <= self.service_wait_seconds <= 7 * 86400:  # NaN fails both comparisons
            found.append(
                f"service_wait_seconds must be in [0, 604800], got {self.service_wait_seconds}"
            )
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
    # 0 = all tasks of the split; N = a sample of N drawn with `seed` (the same on resume).
    max_train_tasks: int = 0
    max_eval_tasks: int = 0
    max_steps: int = 50
    # --- exploration (DESIGN.md step 2)
    # K, the most attempts per failed task; 0 = the env's default (ALFWorld 40, WebShop 20).
    # Exploration is adaptive: a task stops being explored once it has `explore_wins` wins
    # (`explore_wins_needed`), so K is spent only on tasks still unsolved.
    explore_attempts: int = 0
    # Wins after which a task's exploration stops; 0 = max_positives_per_task. More than the
    # cap lets selection keep the shortest of several wins (cheap at p = 1: env steps only).
    explore_wins: int = 0
    # Environment steps the round's exploration may spend in all; 0 = no budget. Attempts run
    # round-robin over the tasks still unsolved, so a budget spent early is spent evenly.
    explore_step_budget: int = 0
    # p per round; the last value holds for later rounds (a schedule, e.g. [1.0, 0.5, 0.1]).
    explore_probability: tuple[float, ...] = (0.1,)
    invalid_limit: int = 3
    # First words of actions uniform exploration never samples: ALFWorld's commands that only
    # read the world. Random wins padded with them taught the adapter to loop on them (measured,
    # docs/benchmarks.md). Empty = sample every admissible action. WebShop's and API-Bank's
    # actions never start with these words.
    explore_skip_verbs: tuple[str, ...] = ("look", "inventory", "examine", "help")
    # When set, exploration samples only actions starting with one of these (WebShop: clicks,
    # never a random search text). Env default.
    explore_only_prefixes: tuple[str, ...] = ()
    # Show the policy, after every observation, the actions exploration could sample there
    # ("Valid actions: go to shelf 1, take mug 1 from shelf 1, ..."), in what is stored, trained
    # on and acted on alike (a3t_controller.episode.shown): the model's own actions then name
    # what this room has. Off: the observations as the env wrote them (the paper's prompt).
    # Env default (EnvDefaults.show_admissible: ALFWorld on).
    show_admissible: bool = False
    max_positives_per_task: int = 5
    stop_at_first_success: bool = False  # WebShop's rule; ALFWorld collects up to the cap
    concurrency: int = 4
    # --- selection (step 3)
    selector: str = "env"
    critic_threshold: float = 7.0
    critic_top_fraction: float = 0.5
    critic_per_task_cap: int = 2
    # --- ablations and baselines
    # False: exploration by temperature sampling, no ActRe (the no-ActRe baseline; API-Bank's
    # default, whose actions cannot be enumerated). Env default (EnvDefaults.explore_with_actre).
    use_actre: bool = True
    self_actre: bool = False  # the policy model answers the ActRe prompt (recorded only)
    # Who writes the sampled steps' rationales: "actre" (the ActRe service; the policy model
    # with self_actre) or "template", one fixed sentence built from the action alone, no model
    # (the ablation the A3T paper's claim rests on). Not an explore field: at p = 1 rationales
    # are asked only at selection, so a fork of another experiment's explored data may differ.
    rationale: str = "actre"
    # Positives only, each with weight 1, no negative term. from_dict makes it True for the
    # critic-loop selectors (SFT_SELECTORS: the critic paper trains SFT on what the critic
    # keeps) unless the config sets it; sft_only: false there is the contrastive variant.
    sft_only: bool = False
    real_valued_reward: bool = False  # mean-baseline weights from real rewards, not binarised
    # Scale each trajectory's weight by (its task's mean steps / its steps), so per task every
    # trajectory puts the same weight on each of its steps and the contrastive weights still sum
    # to zero per step: a 10-step failure no longer outweighs a 3-step success on the tokens
    # every step shares (the step format). False: the paper's per-trajectory weights. The
    # SFT-only baseline keeps weight 1 per success either way.
    per_step_weights: bool = True
    # Train on a failed attempt only over as many steps as its task's longest kept success
    # (a3t.compose.truncate_negatives): its later steps have no success to be contrasted with.
    truncate_negatives: bool = True
    # Train on the base model's failed attempts as negatives. Off by default: the base model
    # acts with the 1-shot exemplar and the trainer renders without it, so they are not samples
    # of the policy being trained (a3t_controller.rounds, compose).
    base_negatives: bool = False
    # --- curriculum (DESIGN.md's options): train on generated games instead of train_split
    # Generated levels to climb, strictly increasing, e.g. [1, 2, 3]; empty = no curriculum.
    curriculum_levels: tuple[int, ...] = ()
    # Attempt success rate on the current level at which the next round moves one level up.
    curriculum_threshold: float = 0.5
    curriculum_train_count: int = 16  # generated training games per level
    curriculum_seed: int = 0  # generator seed of the training games (the same at every level)
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
    # General chat data mixed into every round's training (the critic paper's recipe, so the
    # model keeps its conversational skills): a JSONL of {"messages": [...]} objects on storage
    # the controller reads, and how many chat examples per pool item (0.25: one chat example
    # per four trajectories). Empty / 0 = none.
    chat_data_uri: str = ""
    chat_data_ratio: float = 0.0
    # --- evaluation (step 6)
    # After each grounded evaluation (the base model's too), play the held-out tasks again with
    # grounding off and record that success rate and share of admissible actions beside it:
    # what the model's own text achieves. Its episodes are phase "eval_ungrounded". A policy
    # service whose own settings ground every caller cannot be asked not to: then no ungrounded
    # success is recorded (a warning says why) rather than grounded numbers in its place.
    evaluate_ungrounded: bool = False
    # More held-out splits evaluated after each evaluation (the base model's too), grounded,
    # each recorded as an extra evaluation of the round (`a3t report` lists them): e.g. real
    # ALFWorld valid_unseen beside generated training games (`a3t run --eval-data-root`), or
    # each curriculum level's held-out games (`a3t run` adds those). Never trained on.
    extra_eval_splits: tuple[str, ...] = ()
    # Tasks per extra split: a seeded sample stratified by task type; 0 = every task.
    max_extra_eval_tasks: int = 0
    seed: int = 0

    def explore_probability_at(self, round_: int) -> float:
        schedule = self.explore_probability
        return schedule[min(round_, len(schedule) - 1)]

    def needs_actre(self) -> bool:
        """Whether the experiment asks the ActRe service (not for the template's rationales,
        nor without ActRe exploration): `a3t run` starts it only then."""
        return self.use_actre and self.rationale == "actre"

    def explore_attempts_for_env(self) -> int:
        spec = ENVIRONMENTS.get(self.env)
        return self.explore_attempts or (spec.defaults.explore_attempts if spec else 20)

    def explore_wins_needed(self) -> int:
        """Wins after which a task's exploration stops; 0 = never (all K attempts run).
        WebShop's rule stops at the first; the env selector needs `explore_wins` (by default
        its cap, max_positives_per_task: more wins would go unused). The critic-loop selectors score
        every candidate, and a win by the env's check is what they are measured against: their
        exploration runs all K attempts."""
        if self.stop_at_first_success:
            return 1
        if self.selector != "env":
            return 0
        return self.explore_wins or self.max_positives_per_task

    def epochs_for(self, round_: int) -> int:
        return self.epochs_first_round if round_ == 0 else self.epochs_later_rounds

    def curriculum_split(self, level: int) -> str:
        """The generated training split of a curriculum level, named as `a3t run` names them."""
        return f"gen_l{level}_s{self.curriculum_seed}_n{self.curriculum_train_count}"

    def explores_unlike(self, other: ExperimentConfig) -> list[str]:
        """The fields that make `other` attempt or explore round 0 differently from this config
        (an experiment forked from another must match on all of them)."""
        unlike = [name for name in EXPLORE_FIELDS if getattr(self, name) != getattr(other, name)]
        if self.explore_wins_needed() != other.explore_wins_needed():
            unlike.append("when exploration stops (selector, max_positives_per_task)")
        return unlike

    def problems(self) -> list[str]:
        found = []
        if self.env not in ENVIRONMENTS:
            found.append(
                f"env {self.env[:64]!r} is not a registered environment "
                f"({', '.join(sorted(ENVIRONMENTS))}; docs/environments.md adds one)"
            )
        if not NAME.match(self.name):
            found.append(f"name {quote(self.name)} must be 1-64 letters, digits, '_' or '-'")
        if self.train_split == self.eval_split and not self.curriculum_levels:
            found.append(
                f"train_split and eval_split are both {quote(self.train_split)}: held-out tasks "
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
        if self.explore_wins < 0:
            found.append(
                f"explore_wins must be >= 0 (0 = max_positives_per_task), got {self.explore_wins}"
            )
        if self.explore_step_budget < 0:
            found.append(
                f"explore_step_budget must be >= 0 (0 = no budget), got {self.explore_step_budget}"
            )
        if self.max_positives_per_task < 1:
            found.append(f"max_positives_per_task must be >= 1, got {self.max_positives_per_task}")
        if self.concurrency < 1:
            found.append(f"concurrency must be >= 1, got {self.concurrency}")
        if self.selector not in SELECTORS:
            found.append(f"selector must be one of {SELECTORS}, got {quote(self.selector)}")
        if self.rationale not in RATIONALES:
            found.append(f"rationale must be one of {RATIONALES}, got {quote(self.rationale)}")
        elif self.rationale == "template" and (self.self_actre or not self.use_actre):
            found.append(
                "rationale 'template' replaces ActRe's rationales: it needs use_actre true "
                "(without it exploration writes no rationales) and self_actre false"
            )
        if not 0 < self.critic_top_fraction <= 1:
            found.append(f"critic_top_fraction must be in (0, 1], got {self.critic_top_fraction}")
        if self.epochs_first_round < 1 or self.epochs_later_rounds < 1:
            found.append("epochs_first_round and epochs_later_rounds must be >= 1")
        if self.learning_rate <= 0:
            found.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.chat_data_ratio <= 100:  # NaN fails both comparisons
            found.append(f"chat_data_ratio must be in [0, 100], got {self.chat_data_ratio}")
        if self.chat_data_ratio > 0 and not self.chat_data_uri:
            found.append("chat_data_ratio > 0 needs chat_data_uri (a JSONL of chat messages)")
        for name in ("max_train_tasks", "max_eval_tasks"):
            if getattr(self, name) < 0:
                found.append(f"{name} must be >= 0, got {getattr(self, name)}")
        found.extend(self._curriculum_problems())
        if self.max_extra_eval_tasks < 0:
            found.append(f"max_extra_eval_tasks must be >= 0, got {self.max_extra_eval_tasks}")
        levels = self.curriculum_levels
        trained = {self.curriculum_split(lv) for lv in levels} if levels else {self.train_split}
        for split in self.extra_eval_splits:
            if not split:
                found.append("extra_eval_splits must name splits; got an empty name")
            elif split in trained:
                found.append(
                    f"extra_eval_splits names {quote(split)}, a training split: held-out tasks "
                    "must never be trained on"
                )
        return found

    def _curriculum_problems(self) -> list[str]:
        levels = list(self.curriculum_levels)
        if not levels:
            return []
        found = []
        known = all(level in GENERATED_LEVELS for level in levels)
        order = [GENERATED_LEVELS.index(level) for level in levels] if known else []
        if not known or order != sorted(set(order)):
            found.append(
                f"curriculum_levels must be levels of {list(GENERATED_LEVELS)} (easiest first), "
                f"each harder than the one before (e.g. [1, 5, 2]), or empty for no curriculum; "
                f"got {levels}"
            )
        if not 0 < self.curriculum_threshold <= 1:
            found.append(f"curriculum_threshold must be in (0, 1], got {self.curriculum_threshold}")
        if not 1 <= self.curriculum_train_count <= MAX_GENERATED_TASKS:
            found.append(
                f"curriculum_train_count must be in 1..{MAX_GENERATED_TASKS}, got "
                f"{self.curriculum_train_count}"
            )
        if self.curriculum_seed < 0:
            found.append(f"curriculum_seed must be >= 0, got {self.curriculum_seed}")
        clash = [lv for lv in levels if self.curriculum_split(lv) == self.eval_split]
        if clash:
            found.append(
                f"eval_split {quote(self.eval_split)} is the curriculum's level-{clash[0]} "
                "training split: held-out tasks must never be trained on; change curriculum_seed"
            )
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
        # key=str: YAML keys need not be strings (`1: x`, `null: x`), and mixed types don't sort.
        unknown = sorted(set(data) - known, key=str)
        if unknown:
            raise ConfigError([f"unknown experiment config keys {_shown(unknown)}"])
        values, found = {}, []
        for f in dataclasses.fields(cls):
            if f.name in data:
                assert isinstance(f.type, str)  # `from __future__ import annotations`: text
                value, problem = _typed(f.name, f.type, data[f.name])
                values[f.name] = value
                if problem:
                    found.append(problem)
        if found:
            raise ConfigError(found)
        spec = ENVIRONMENTS.get(values.get("env", cls.env))
        if spec is not None:
            for name, default in ENV_DEFAULTED.items():
                values.setdefault(name, getattr(spec.defaults, default))
        if values.get("selector", cls.selector) in SFT_SELECTORS:
            values.setdefault("sft_only", True)
        config = cls(**values)
        if found := config.problems():
            raise ConfigError(found)
        return config


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases: a few nested aliases expand a 242-byte document into
    megabytes (a "billion laughs"), and an experiment config never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            raise _AliasFound(f"line {line}: YAML aliases (*name) are not accepted; write it out")
        return super().compose_node(parent, index)


class _AliasFound(yaml.YAMLError):
    pass


def load_yaml_value(text: str, what: str) -> Any:
    """One YAML document's value, aliases refused; InvalidArgument naming `what`. Besides
    YAMLError, safe_load's constructors raise ValueError for a scalar they cannot build
    (`2001-13-01` as a date, an int of more than 4300 digits) and RecursionError for deep
    nesting (`[[[[...`): each is a bad document, not a bug."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{what} does not parse: {str(exc)[:300]}") from exc
    except ValueError as exc:
        raise InvalidArgument(f"{what} holds a value YAML cannot read: {str(exc)[:300]}") from exc
    except RecursionError:
        raise InvalidArgument(f"{what} nests too deeply to read") from None


def load_config_yaml(text: str, what: str) -> dict:
    """A YAML mapping of experiment fields, aliases refused; InvalidArgument naming `what`."""
    loaded = load_yaml_value(text, what) or {}
    if not isinstance(loaded, dict):
        raise InvalidArgument(f"{what} must be a mapping of ExperimentConfig fields")
    return loaded


_SCALARS = {"str": str, "int": int, "float": float, "bool": bool}


def _typed(name: str, annotation: str, value: Any) -> tuple[Any, str]:
    """`value` as the field's type, and a problem ("" when none). An int is a valid float, and
    so is a string float() reads: YAML 1.1 loads `1e-3` (no dot) as the string '1e-3'."""

    def scalar(kind: str, item: Any) -> tuple[Any, bool]:
        if kind == "float" and isinstance(item, int) and not isinstance(item, bool):
            return float(item), True
        if kind == "float" and isinstance(item, str):
            try:
                item = float(item)
            except ValueError:
                return item, False
        if kind == "float" and isinstance(item, float):  # .nan and .inf are YAML floats
            return item, math.isfinite(item)
        if kind in ("int", "float") and isinstance(item, bool):
            return item, False
        return item, isinstance(item, _SCALARS[kind])

    if annotation.startswith("tuple["):
        kind = annotation[len("tuple[") :].split(",")[0]
        items = value if isinstance(value, list | tuple) else [value]
        out = [scalar(kind, item) for item in items]
        if all(ok for _, ok in out):
            return tuple(v for v, _ in out), ""
        finite = "finite " if kind == "float" else ""
        return value, f"{name} must be a list of {finite}{kind} values, got {_shown(value)}"
    if annotation in _SCALARS:
        out, ok = scalar(annotation, value)
        if ok:
            return out, ""
        finite = "a finite " if annotation == "float" else ""
        return value, f"{name} must be {finite or ''}{annotation}, got {_shown(value)}"
    return value, ""


def _shown(value: Any) -> str:
    """A config value in an error message, cut short: a huge value must not make the message
    too large to send."""
    if isinstance(value, str):
        return quote(value)
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"
