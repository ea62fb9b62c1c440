"""The one ReAct chat format, shared by the policy at inference and the trainer at training time.

Both sides build messages with `react_messages` and token ids with the model's chat template, so
the text a policy acted on is byte for byte the text the trainer trains on.

Format (one assistant turn per step; the A3T paper writes thought and action together):

    system     <system prompt>
    ...        <exemplar turns, e.g. one solved episode in this same format>
    user       <initial observation>  (+ the task instruction when the observation lacks it)
    assistant  think: <thought>       <- only when the step has a thought
               <action>
    user       <observation that answered the step>
    assistant  ...

ReAct's original ALFWorld prompt makes a thought its own turn answered "OK."; we do not: that
costs a model call and an environment step per thought, and the ActRe synthesis (DESIGN.md, "the
A3T round") produces thought and action as one step. `format_step` and `parse_step` are inverses
for single-line thoughts and actions; `format_step` folds whitespace runs (newlines included) to
one space so that holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from a3t.errors import FailedPrecondition
from a3t.inference.base import ChatMessage
from a3t.trajectory import Step, Task, Trajectory

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

THINK_PREFIX = "think:"
_WS = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _WS.sub(" ", text).strip()


def format_step(step: Step) -> str:
    """The assistant turn of a step: `think: <thought>\\n<action>`, or `<action>` alone."""
    action = _one_line(step.action)
    thought = _one_line(step.thought)
    return f"{THINK_PREFIX} {thought}\n{action}" if thought else action


def parse_step(text: str) -> tuple[str, str]:
    """Splits generated text into (thought, action); the inverse of `format_step`.

    The first non-empty line is the thought when it starts with `think:`; the next non-empty line
    is the action (empty when missing). Without a thought the first line is the action. A leading
    `>` (ALFWorld transcripts prefix commands with it) is dropped; later lines are ignored, since a
    small model often runs on and invents the next observation.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    thought = ""
    if lines and lines[0].lower().startswith(THINK_PREFIX):
        thought = lines.pop(0)[len(THINK_PREFIX) :].strip()
    action = lines[0].removeprefix(">").strip() if lines else ""
    return thought, action


def react_messages(
    system: str,
    exemplar: Sequence[ChatMessage],
    task: Task,
    initial_observation: str,
    history: Sequence[Step],
) -> list[ChatMessage]:
    """The chat for a policy's next step (or, with the whole trajectory, for training on it).

    Every step's observation becomes a user turn, except an empty observation of the last step
    (a trajectory that ended on that step has nothing to show).
    """
    messages = [ChatMessage("system", system)] if system else []
    messages.extend(exemplar)
    first = initial_observation
    if task.instruction and task.instruction not in initial_observation:
        first = (
            f"{initial_observation}\n{task.instruction}"
            if initial_observation
            else task.instruction
        )
    messages.append(ChatMessage("user", first))
    for i, step in enumerate(history):
        messages.append(ChatMessage("assistant", format_step(step)))
        if step.observation or i < len(history) - 1:
            messages.append(ChatMessage("user", step.observation))
    return messages


def trajectory_messages(
    system: str, exemplar: Sequence[ChatMessage], trajectory: Trajectory
) -> list[ChatMessage]:
    """`react_messages` over a whole trajectory: what the trainer renders."""
    return react_messages(
        system, exemplar, trajectory.task, trajectory.initial_observation, trajectory.steps
    )


def _dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def render_text(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[ChatMessage],
    add_generation_prompt: bool = False,
) -> str:
    """The chat as text through the tokenizer's chat template."""
    text = tokenizer.apply_chat_template(
        _dicts(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert isinstance(text, str)  # tokenize=False: the rendered text
    return text


def encode_text(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of rendered chat text. No extra BOS: the template already wrote what it wants."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage]) -> list[int]:
    """Token ids of the prompt for the assistant's next turn (what the engines feed the model)."""
    return encode_text(tokenizer, render_text(tokenizer, messages, add_generation_prompt=True))


def render_with_spans(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[ChatMessage]
) -> tuple[list[int], list[bool]]:
    """Token ids of the whole chat, and which of them are agent tokens.

    Agent tokens are the assistant turns' contents plus the end-of-turn token that closes each
    (so the model learns to stop); the role headers, system, exemplar-user and observation turns
    are not. Exemplar assistant turns do count: callers that want them out mask them separately.
    Needs a template whose rendering of a prefix of the chat is a prefix of the whole rendering
    (ChatML and most others).
    """
    full = render_text(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message.role != "assistant":
            continue
        head = render_text(tokenizer, messages[:i], add_generation_prompt=True)
        upto = render_text(tokenizer, messages[: i + 1]).rstrip()  # drop the newline after <eot>
        if not (full.startswith(head) and full.startswith(upto) and len(upto) > len(head)):
            raise FailedPrecondition(
                "the tokenizer's chat template does not render a chat's prefix as a prefix of the "
                "whole chat, so agent tokens cannot be located; use a ChatML-style template"
            )
        spans.append((len(head), len(upto)))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    mask = [False] * len(ids)
    span_index = 0
    for t, (start, end) in enumerate(encoded["offset_mapping"]):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        if span_index == len(spans):
            break
        lo, hi = spans[span_index]
        mask[t] = lo <= start < hi and end > start
    return ids, mask
