"""Contrastive weight composition (DESIGN.md, A³T round step 4) and the weighted-dataset JSONL.

Per task the controller has the policy's own attempt and the successes exploration found for it:

- solved directly              -> the attempt, weight +1;
- failed, explored to K' > 0   -> each success +1/(K'+1), the own failed attempt -K'/(K'+1)
  (a per-task mean-reward baseline: the weights sum to zero, so shared prefixes cancel);
- failed and never solved      -> dropped.

`compose` applies every rule of an experiment to one task in one place, in this order: the
contrastive weights above (`compose_task`); the base model's failures dropped (`base_negatives`
off); the real-valued instead of the binarised reward (`real_valued_reward`); successes only
(`sft_only`); failures cut to their successes' length (`truncate_negatives`); weights rescaled by
trajectory length (`per_step_weights`). Its `ComposeRules` are the experiment config's values.

The trainer reads what the controller writes: one JSON object per line,
`{"weight": w, "trajectory": <Trajectory.to_dict()>}`, or for general chat data mixed in (the
critic paper's recipe, `chat_data_uri`) `{"weight": w, "chat": [{"role": r, "content": c}, ...]}`.
A chat file a user gives holds one `{"messages": [...]}` object per line (the common SFT layout).
Pure logic, no torch and no grpc.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from a3t.artifacts import writing
from a3t.errors import InvalidArgument
from a3t.inference.base import ROLES, ChatMessage
from a3t.trajectory import Trajectory


@dataclass(frozen=True)
class WeightedTrajectory:
    """One training example: a trajectory and its policy-gradient weight (positive or negative)."""

    weight: float
    trajectory: Trajectory

    def to_json(self) -> str:
        return json.dumps(
            {"weight": self.weight, "trajectory": self.trajectory.to_dict()},
            ensure_ascii=False,
            sort_keys=True,
        )


@dataclass(frozen=True)
class WeightedChat:
    """A general chat example mixed into training: loss on its assistant turns, times `weight`."""

    weight: float
    messages: tuple[ChatMessage, ...]

    def to_json(self) -> str:
        chat = [{"role": m.role, "content": m.content} for m in self.messages]
        return json.dumps({"weight": self.weight, "chat": chat}, ensure_ascii=False)


DatasetItem = WeightedTrajectory | WeightedChat


@dataclass(frozen=True)
class TaskOutcome:
    """What one round found for one task.

    `attempt`: the policy's own (greedy) attempt; `attempt.won` says whether it solved the task
    (the environment's check: ALFWorld's won, WebShop's reward 1, API-Bank's call check).
    `successes`: explored trajectories that the selector kept (already capped per task).
    """

    attempt: Trajectory
    successes: tuple[Trajectory, ...] = ()


def compose_task(outcome: TaskOutcome) -> list[WeightedTrajectory]:
    """The weighted trajectories one task contributes (empty when the task stayed unsolved)."""
    if outcome.attempt.won:
        # Explored successes are not needed when the policy already solves the task: the paper
        # trains on the direct success alone.
        return [WeightedTrajectory(1.0, outcome.attempt)]
    k = len(outcome.successes)
    if k == 0:
        return []
    positive = 1.0 / (k + 1)
    return [
        *(WeightedTrajectory(positive, t) for t in outcome.successes),
        WeightedTrajectory(-k / (k + 1), outcome.attempt),
    ]


def truncate_negatives(items: Sequence[WeightedTrajectory]) -> list[WeightedTrajectory]:
    """One task's items with each negative cut to as many steps as its longest positive.

    A failed attempt runs to the step limit; the successes it is contrasted with end after a
    few steps. Past that point the failure has nothing to be weighed against: its late steps
    (often a loop) only push down, at late positions, the tokens every step writes, and the
    trained policy stops writing the step format after a few steps (measured, docs/
    benchmarks.md). Cut, the failure is contrasted over the steps a success needed. The
    trajectory itself is stored whole; only what is trained on is cut.
    """
    longest = max((len(i.trajectory.steps) for i in items if i.weight > 0), default=0)
    out = []
    for i in items:
        if i.weight < 0 and longest and len(i.trajectory.steps) > longest:
            cut = replace(i.trajectory, steps=i.trajectory.steps[:longest])
            i = WeightedTrajectory(i.weight, cut)
        out.append(i)
    return out


def per_step(items: Sequence[WeightedTrajectory]) -> list[WeightedTrajectory]:
    """One task's items with each weight scaled by (mean steps of the items / its own steps).

    The loss sums log-probs over tokens, so with per-trajectory weights a 10-step failure puts
    ~3x the weight of a 3-step success on the tokens every step shares (`think:`, the end of
    turn), and the contrastive term unlearns the step format. Scaled, every trajectory weighs
    each of its steps the same, the per-step weights sum to zero when the weights did, and the
    mean scale keeps the loss's size (a lone trajectory keeps its weight).
    """
    if not items:
        return []
    steps = [max(1, len(i.trajectory.steps)) for i in items]
    mean = sum(steps) / len(steps)
    pairs = zip(items, steps, strict=True)
    return [WeightedTrajectory(i.weight * mean / n, i.trajectory) for i, n in pairs]


def compose_weights(outcomes: Iterable[TaskOutcome]) -> list[WeightedTrajectory]:
    """Composes every task's weighted trajectories, in the order of `outcomes`."""
    return [item for outcome in outcomes for item in compose_task(outcome)]


# The adapter names a trajectory of the base model carries (a3t_controller.rounds: "" in the
# attempts of round 0, "base" in the base evaluation).
BASE_ADAPTERS = ("", "base")


@dataclass(frozen=True)
class ComposeRules:
    """The experiment's composition settings (the ExperimentConfig fields of the same names;
    DESIGN.md lists why each default is what it is)."""

    base_negatives: bool
    real_valued_reward: bool
    sft_only: bool
    truncate_negatives: bool
    per_step_weights: bool


@dataclass(frozen=True)
class Composed:
    """One task's training items and what the rules removed from them, for the round stats."""

    items: list[WeightedTrajectory]
    base_negatives_dropped: int = 0  # base-model failures left out (`base_negatives` off)
    negatives_truncated: int = 0  # failures cut to their task's longest success


def compose(outcome: TaskOutcome, rules: ComposeRules) -> Composed:
    """The items one task trains on under `rules`, each rule applied in the order below."""
    items = compose_task(outcome)
    dropped = truncated = 0
    if rules.real_valued_reward and not outcome.attempt.won and items:
        # Mean-reward baseline over the real rewards instead of the binarised ones. Taken over
        # the whole group, the failed attempt included, before any rule drops it: a baseline
        # over the successes alone (all reward 1) would weigh each of them 0.
        mean = sum(i.trajectory.reward for i in items) / len(items)
        items = [WeightedTrajectory(i.trajectory.reward - mean, i.trajectory) for i in items]
    if not rules.base_negatives and outcome.attempt.policy_adapter in BASE_ADAPTERS:
        # The base model acted with the 1-shot exemplar, which the trainer does not render: its
        # failure is not a sample of the policy being trained, and pushing it down (format
        # tokens included) unlearns the step format before an adapter has learned it. Its
        # task's successes still count.
        dropped = sum(i.weight < 0 for i in items)
        items = [i for i in items if i.weight > 0]
    if rules.sft_only:  # baseline: successes only, each with weight 1, no negative term
        items = [WeightedTrajectory(1.0, i.trajectory) for i in items if i.weight > 0]
    if rules.truncate_negatives:
        cut = truncate_negatives(items)
        truncated = sum(
            len(a.trajectory.steps) != len(b.trajectory.steps)
            for a, b in zip(items, cut, strict=True)
        )
        items = cut
    if rules.per_step_weights and not rules.sft_only:  # SFT keeps every success at weight 1
        items = per_step(items)
    return Composed(items, dropped, truncated)


# --- the dataset file


def _weight(data: dict, where: str) -> float:
    weight = data["weight"]
    # bool is an int subclass; "weight": true is a mistake, not 1.0.
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not math.isfinite(weight)
    ):
        raise InvalidArgument(f"{where}: weight must be a finite number, got {weight!r}")
    return float(weight)


def parse_messages(raw: object, where: str) -> tuple[ChatMessage, ...]:
    """A list of {"role", "content"} objects -> messages; at least one assistant turn (the
    tokens a chat example trains on). Else InvalidArgument naming `where` and the message."""
    if not isinstance(raw, list) or not raw:
        raise InvalidArgument(f"{where}: messages must be a non-empty list of objects")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            got = sorted(m) if isinstance(m, dict) else type(m).__name__
            raise InvalidArgument(
                f'{where}: message {i} must be an object {{"role": r, "content": c}}; got {got}'
            )
        if m["role"] not in ROLES or not isinstance(m["content"], str):
            raise InvalidArgument(
                f"{where}: message {i}: role must be one of {ROLES} and content a string; got "
                f"role {str(m['role'])[:20]!r}, content of type {type(m['content']).__name__}"
            )
        messages.append(ChatMessage(m["role"], m["content"]))
    if not any(m.role == "assistant" for m in messages):
        raise InvalidArgument(f"{where}: no assistant message, so nothing to train on")
    return tuple(messages)


def parse_line(line: str, where: str) -> DatasetItem:
    """One JSONL line -> WeightedTrajectory or WeightedChat; else InvalidArgument naming `where`
    (file:line)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or set(data) not in (
        {"weight", "trajectory"},
        {"weight", "chat"},
    ):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InvalidArgument(
            f'{where}: each line must be an object {{"weight": w, "trajectory": {{...}}}} or '
            f'{{"weight": w, "chat": [...]}}; got {got}'
        )
    weight = _weight(data, where)
    if "chat" in data:
        return WeightedChat(weight, parse_messages(data["chat"], where))
    try:
        trajectory = Trajectory.from_dict(data["trajectory"])
    except InvalidArgument as exc:
        raise InvalidArgument(f"{where}: {exc}") from exc
    return WeightedTrajectory(weight, trajectory)


def read_dataset(path: Path | str) -> list[DatasetItem]:
    """Reads a weighted-dataset JSONL file. Blank lines are skipped; any bad line is an
    InvalidArgument that names the file and line number."""
    path = Path(path)
    items = []
    with open(path, "rb") as src:  # bytes, so that a line that is not UTF-8 can be named
        for number, raw in enumerate(src, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidArgument(
                    f"{path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start}); a dataset "
                    "is UTF-8 JSONL"
                ) from exc
            if line.strip():
                items.append(parse_line(line, f"{path}:{number}"))
    return items


def write_dataset(path: Path | str, items: Sequence[DatasetItem]) -> Path:
    """Writes the JSONL atomically (temp file + rename), so a reader never sees half a dataset.
    A full or read-only disk: a storage error naming the directory (a3t.artifacts), and the temp
    file is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with writing(path.parent, f"the dataset {path.name}"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as out:
                for item in items:
                    out.write(item.to_json() + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
    return path


# --- general chat data (the critic paper mixes it into every round's training)


def read_chat_file(path: Path | str) -> list[tuple[ChatMessage, ...]]:
    """A user's chat JSONL, one `{"messages": [...]}` object per line (blank lines skipped).
    A missing file, a bad line or an empty file is an InvalidArgument naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"chat_data_uri {path}: cannot read it ({exc})") from exc
    chats = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"chat_data_uri {path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or "messages" not in data:
            raise InvalidArgument(f'{where}: each line must be an object {{"messages": [...]}}')
        chats.append(parse_messages(data["messages"], where))
    if not chats:
        raise InvalidArgument(f"chat_data_uri {path}: holds no chat")
    return chats


def mix_chats(
    chats: Sequence[tuple[ChatMessage, ...]], n_items: int, ratio: float, seed: int
) -> list[WeightedChat]:
    """round(ratio x n_items) chat examples of weight 1 for a dataset of `n_items` trajectory
    items: a seeded sample without replacement, cycling through the whole file again when more
    are needed than it holds. The same seed draws the same chats (a resumed round writes the
    same dataset)."""
    count = round(ratio * n_items)
    if count <= 0 or not chats:
        return []
    rng = random.Random(seed)
    picked: list[tuple[ChatMessage, ...]] = []
    while len(picked) < count:
        order = list(chats)
        rng.shuffle(order)
        picked += order[: count - len(picked)]
    return [WeightedChat(1.0, messages) for messages in picked]
