"""Training data: weighted trajectories -> chat-formatted token ids, loss masks, training steps.

Each trajectory is rendered with the shared ReAct chat format (`a3t.inference.chat`) and, by
default, the policy's own system prompt without the 1-shot exemplar (`a3t.prompts`: what the
policy sends once it acts with an adapter), so the trainer trains on exactly the text the policy
acts on. The loss mask covers the agent tokens
(assistant turns and the end-of-turn token that closes each); `include_observations` adds the
observation turns' contents. Trajectories longer than `max_tokens` lose whole early steps (the
task turn is kept), never the final ones; if the last step alone does not fit the example is an
error that names the fix. General chat examples mixed in (`WeightedChat`) train on their
assistant turns; one longer than `max_tokens` keeps its first `max_tokens` tokens (a causal
prefix is still a valid example).

`plan_epoch` then lays an epoch out as optimizer steps. A task's trajectories (its successes
and the policy's own failure, whose weights sum to zero) always share a step, so the gradients
of their common prefix cancel inside the step instead of across Adam updates. Each step is a
list of rows, one forward each, never padded: one example per row, or with `pack` several laid
end to end (first-fit decreasing up to `max_tokens`) with position ids restarting at each, which
transformers turns into a block-diagonal causal mask so packed examples never see each other.
Packing pays on GPUs; on the CPU the attention over long packed rows costs more than it saves
(docs/benchmarks.md), so there each example is its own row.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from a3t.compose import DatasetItem, WeightedChat, WeightedTrajectory
from a3t.errors import FailedPrecondition, InvalidArgument
from a3t.inference.base import ChatMessage
from a3t.inference.chat import render_text, render_with_spans, trajectory_messages
from a3t.prompts import trajectory_policy_messages

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    """One tokenized trajectory. `loss_mask[t]` says whether token t is a training target."""

    input_ids: tuple[int, ...]
    loss_mask: tuple[bool, ...]
    weight: float
    group: str = ""  # the task: trajectories of one task are trained in the same step
    dropped_steps: int = 0  # early steps cut to fit max_tokens

    @property
    def loss_tokens(self) -> int:
        # Token 0 is never predicted (nothing precedes it in its sequence).
        return sum(self.loss_mask[1:])


@dataclass(frozen=True)
class Pack:
    """One row: examples laid end to end in one sequence, and the positions the loss reads.

    `target_positions[i]` is the position whose logits predict `targets[i]` (the next token),
    which belongs to an example of weight `target_weights[i]`.
    """

    input_ids: torch.Tensor  # [L] long
    position_ids: torch.Tensor  # [L] long, restarting at 0 for each example
    target_positions: torch.Tensor  # [n] long
    targets: torch.Tensor  # [n] long
    target_weights: torch.Tensor  # [n] float32
    examples: tuple[int, ...]  # indices into the example list

    @property
    def tokens(self) -> int:
        return int(self.input_ids.numel())


def _observation_mask(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage], n_tokens: int
) -> list[bool]:
    """Marks the tokens inside user turns' contents (the observations, the first one included)."""
    full = render_text(tokenizer, messages)
    spans = []
    for i, message in enumerate(messages):
        if message.role != "user" or not message.content:
            continue
        after = len(render_text(tokenizer, messages[:i])) if i else 0
        start = full.find(message.content, after)
        if start < 0:
            raise FailedPrecondition(
                "the chat template does not render observation turns verbatim, so observation "
                "tokens cannot be located; turn include_observation_tokens off or use ChatML"
            )
        spans.append((start, start + len(message.content)))
    offsets = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    mask = [False] * n_tokens
    for t, (lo, hi) in enumerate(offsets["offset_mapping"][:n_tokens]):
        mask[t] = hi > lo and any(s <= lo < e for s, e in spans)
    return mask


def tokenize(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[ChatMessage],
    include_observations: bool = False,
) -> tuple[list[int], list[bool]]:
    """Token ids of the chat and its loss mask (agent tokens, plus observations when asked).

    Tokens after the last loss token (the final observation, usually) are dropped: in a causal
    LM they cannot change any loss term, so they would only cost compute and sequence room.
    """
    ids, mask = render_with_spans(tokenizer, messages)
    if include_observations:
        observed = _observation_mask(tokenizer, messages, len(ids))
        mask = [a or o for a, o in zip(mask, observed, strict=True)]
    end = max((t + 1 for t, on in enumerate(mask) if on), default=len(ids))
    return ids[:end], mask[:end]


def _without_early_steps(messages: list[ChatMessage], head: int, k: int) -> list[ChatMessage]:
    """Drops the first k steps: their assistant turns and all but the last one's observation.

    messages = head + [a1, o1, a2, o2, ..., an(, on)]; keeping o_k gives step k+1 the
    observation it acted on.
    """
    if k == 0:
        return messages
    return messages[:head] + messages[head + 2 * k - 1 :]


def build_example(
    tokenizer: PreTrainedTokenizerBase,
    item: WeightedTrajectory,
    *,
    system_prompt: str = "",
    include_observations: bool = False,
    max_tokens: int = 2048,
) -> Example:
    """One weighted trajectory -> Example, truncated to `max_tokens` without touching its end.

    `system_prompt` overrides the policy's system prompt for the trajectory's env.
    """
    if system_prompt:
        messages = trajectory_messages(system_prompt, (), item.trajectory)
    else:
        messages = trajectory_policy_messages(item.trajectory, with_exemplar=False)
    head = next(i for i, m in enumerate(messages) if m.role == "user") + 1
    n_steps = len(item.trajectory.steps)
    ids, mask = tokenize(tokenizer, messages, include_observations)
    dropped = 0
    if len(ids) > max_tokens and n_steps > 1:
        # Binary search for the fewest early steps to drop (length falls as k grows).
        lo, hi = 1, n_steps - 1
        best: tuple[int, list[int], list[bool]] | None = None
        while lo <= hi:
            k = (lo + hi) // 2
            cut = tokenize(tokenizer, _without_early_steps(messages, head, k), include_observations)
            if len(cut[0]) <= max_tokens:
                best, hi = (k, *cut), k - 1
            else:
                lo = k + 1
        if best is None:
            k = n_steps - 1
            best = (
                k,
                *tokenize(tokenizer, _without_early_steps(messages, head, k), include_observations),
            )
        dropped, ids, mask = best
    if len(ids) > max_tokens:
        # Even the task turn plus the last step is too long: keep the sequence's tail, which
        # must still hold the whole last assistant turn.
        first_agent = mask.index(True) if True in mask else len(mask)
        if len(ids) - first_agent > max_tokens:
            raise InvalidArgument(
                f"trajectory {item.trajectory.trajectory_id or '(no id)'}: its last step alone is "
                f"{len(ids) - first_agent} tokens, more than max_seq_tokens={max_tokens}; raise "
                "max_seq_tokens"
            )
        ids, mask = ids[-max_tokens:], mask[-max_tokens:]
    task = item.trajectory.task
    return Example(tuple(ids), tuple(mask), item.weight, f"{task.env}/{task.task_id}", dropped)


def build_chat_example(
    tokenizer: PreTrainedTokenizerBase, item: WeightedChat, index: int, max_tokens: int
) -> Example:
    """One general chat example: loss on its assistant turns, cut to its first `max_tokens`
    tokens. Each is its own group (`chat/<index>`): it has no contrastive partner."""
    ids, mask = tokenize(tokenizer, item.messages)
    return Example(tuple(ids[:max_tokens]), tuple(mask[:max_tokens]), item.weight, f"chat/{index}")


def build_examples(
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[DatasetItem],
    *,
    system_prompt: str = "",
    include_observations: bool = False,
    max_tokens: int = 2048,
) -> list[Example]:
    """Every usable example: weight 0 or no loss tokens means no gradient, so they are left out."""
    examples = []
    for index, item in enumerate(items):
        if item.weight == 0:
            continue
        if isinstance(item, WeightedChat):
            example = build_chat_example(tokenizer, item, index, max_tokens)
        else:
            example = build_example(
                tokenizer,
                item,
                system_prompt=system_prompt,
                include_observations=include_observations,
                max_tokens=max_tokens,
            )
        if example.loss_tokens:
            examples.append(example)
    truncated = sum(e.dropped_steps > 0 for e in examples)
    if truncated:
        log.info(
            "%d of %d trajectories lost early steps to fit %d tokens",
            truncated,
            len(examples),
            max_tokens,
        )
    return examples


def first_fit(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """First-fit-decreasing bins of indices whose lengths sum to at most `max_tokens`."""
    bins: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        slot = next((b for b, free in enumerate(room) if free >= lengths[i]), None)
        if slot is None:
            bins.append([i])
            room.append(max_tokens - lengths[i])
        else:
            bins[slot].append(i)
            room[slot] -= lengths[i]
    return bins


def pack_examples(examples: Sequence[Example], max_tokens: int) -> list[Pack]:
    """All examples packed first-fit decreasing into rows of at most `max_tokens` tokens."""
    bins = first_fit([len(e.input_ids) for e in examples], max_tokens)
    return [make_pack(examples, tuple(members)) for members in bins]


def plan_epoch(
    examples: Sequence[Example],
    *,
    seed: int,
    epoch: int,
    tokens_per_step: int,
    max_tokens: int,
    pack: bool,
) -> list[list[tuple[int, ...]]]:
    """The epoch's optimizer steps, each a list of rows of example indices.

    Tasks are shuffled by (seed, epoch) alone, so a resumed run replays the same steps. Whole
    tasks are added to a step until it holds `tokens_per_step` tokens (a task larger than that
    is a step of its own).
    """
    groups: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        groups.setdefault(example.group or f"#{i}", []).append(i)
    order = list(groups.values())
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    steps: list[list[int]] = []
    tokens = 0
    for members in order:
        size = sum(len(examples[i].input_ids) for i in members)
        if not steps or tokens + size > tokens_per_step:
            steps.append([])
            tokens = 0
        steps[-1].extend(members)
        tokens += size
    if not pack:
        return [[(i,) for i in step] for step in steps]
    plans = []
    for step in steps:
        bins = first_fit([len(examples[i].input_ids) for i in step], max_tokens)
        plans.append([tuple(step[j] for j in members) for members in bins])
    return plans


def make_pack(examples: Sequence[Example], indices: tuple[int, ...]) -> Pack:
    """The row holding `examples[i]` for i in `indices`, in that order."""
    members = [examples[i] for i in indices]
    ids: list[int] = []
    positions: list[int] = []
    target_positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for example in members:
        offset = len(ids)
        ids.extend(example.input_ids)
        positions.extend(range(len(example.input_ids)))
        for t in range(1, len(example.input_ids)):
            if example.loss_mask[t]:
                target_positions.append(offset + t - 1)
                targets.append(example.input_ids[t])
                weights.append(example.weight)
    return Pack(
        input_ids=torch.tensor(ids, dtype=torch.long),
        position_ids=torch.tensor(positions, dtype=torch.long),
        target_positions=torch.tensor(target_positions, dtype=torch.long),
        targets=torch.tensor(targets, dtype=torch.long),
        target_weights=torch.tensor(weights, dtype=torch.float32),
        examples=indices,
    )
