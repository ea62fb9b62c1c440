"""The shared ReAct chat format: step text round trip, message layout, agent-token spans."""

from __future__ import annotations

import pytest

from a3t.inference.base import ChatMessage
from a3t.inference.chat import (
    format_step,
    parse_step,
    prompt_ids,
    react_messages,
    render_text,
    render_with_spans,
)
from a3t.trajectory import Step, Task


@pytest.mark.parametrize(
    ("thought", "action"),
    [
        ("I need a mug. It may be in a cabinet.", "go to cabinet 1"),
        ("", "take mug 1 from cabinet 1"),
        ("a thought without an action yet", ""),
    ],
)
def test_format_and_parse_are_inverses(thought: str, action: str) -> None:
    text = format_step(Step(action=action, thought=thought))
    assert parse_step(text) == (thought, action)


def test_format_step_layout_and_whitespace_folding() -> None:
    step = Step(action="  open\ndrawer 1 ", thought="multi\n\nline   thought")
    assert format_step(step) == "think: multi line thought\nopen drawer 1"
    assert format_step(Step(action="look")) == "look"


def test_parse_step_tolerates_model_run_on() -> None:
    text = "\n think: find the mug \n> go to cabinet 1\nYou arrive at cabinet 1.\n> take mug"
    assert parse_step(text) == ("find the mug", "go to cabinet 1")
    assert parse_step("Think: upper-case prefix\nlook") == ("upper-case prefix", "look")
    assert parse_step("") == ("", "")


def test_react_messages_layout() -> None:
    exemplar = [ChatMessage("user", "ex obs"), ChatMessage("assistant", "ex act")]
    task = Task(env="alfworld", task_id="t", instruction="Your task is to: put a mug in sink.")
    history = [
        Step(action="go to cabinet 1", thought="look for a mug", observation="You see a mug 1."),
        Step(action="take mug 1 from cabinet 1", observation=""),
    ]
    messages = react_messages("sys", exemplar, task, "You are in a room.", history)
    assert [(m.role, m.content) for m in messages] == [
        ("system", "sys"),
        ("user", "ex obs"),
        ("assistant", "ex act"),
        ("user", "You are in a room.\nYour task is to: put a mug in sink."),
        ("assistant", "think: look for a mug\ngo to cabinet 1"),
        ("user", "You see a mug 1."),
        ("assistant", "take mug 1 from cabinet 1"),  # empty last observation: no user turn
    ]
    # The instruction is not repeated when the observation already states it.
    again = react_messages("", [], task, f"Room.\n{task.instruction}", [])
    assert [m.content for m in again] == [f"Room.\n{task.instruction}"]


def _chat() -> list[ChatMessage]:
    return [
        ChatMessage("system", "You are an agent in a household."),
        ChatMessage("user", "You are in the middle of a room. Your task is to: find a mug."),
        ChatMessage("assistant", "think: Mugs are in cabinets.\ngo to cabinet 1"),
        ChatMessage("user", "You arrive at cabinet 1. On the cabinet 1, you see a mug 1."),
        ChatMessage("assistant", "take mug 1 from cabinet 1"),
        ChatMessage("user", "You pick up the mug 1 from the cabinet 1."),
    ]


def _check_spans(tokenizer, messages: list[ChatMessage]) -> None:
    ids, mask = render_with_spans(tokenizer, messages)
    assert len(ids) == len(mask)
    # The ids are exactly the tokens of the rendered chat (what the engine feeds the model).
    assert ids == tokenizer(render_text(tokenizer, messages), add_special_tokens=False).input_ids
    runs: list[list[int]] = []
    previous = False
    for token, agent in zip(ids, mask, strict=True):
        if agent and not previous:
            runs.append([])
        if agent:
            runs[-1].append(token)
        previous = agent
    eot = tokenizer.eos_token
    expected = [m.content + eot for m in messages if m.role == "assistant"]
    assert [tokenizer.decode(run) for run in runs] == expected
    # Everything else (headers, observations, the newline after <eot>) is not agent text.
    rest = tokenizer.decode([t for t, a in zip(ids, mask, strict=True) if not a])
    assert "cabinet 1, you see a mug 1" in rest and "go to cabinet" not in rest
    # The inference prompt before each assistant turn is a token prefix of the training ids.
    for i, message in enumerate(messages):
        if message.role == "assistant":
            head = prompt_ids(tokenizer, messages[:i])
            assert ids[: len(head)] == head
            assert not any(mask[: len(head)][-1:])  # the turn header is not agent text
            assert mask[len(head)]


def test_render_with_spans_covers_exactly_the_assistant_turns(tiny_model: str) -> None:
    from transformers import AutoTokenizer

    _check_spans(AutoTokenizer.from_pretrained(tiny_model), _chat())


@pytest.mark.slow
def test_render_with_spans_on_smollm2() -> None:
    from transformers import AutoTokenizer

    from a3t.inference.models import SMOLLM2, resolve_checkpoint

    _check_spans(AutoTokenizer.from_pretrained(resolve_checkpoint(SMOLLM2)), _chat())
