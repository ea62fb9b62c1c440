"""ActRe core over a scripted engine: the act-then-reason prompt, rationale cleaning, errors."""

from __future__ import annotations

import pytest

from a3t.errors import InvalidArgument, NotFound
from a3t.inference.base import GenerationParams
from a3t.inference.served import ServedModel
from a3t.prompts import actre_messages
from a3t.trajectory import Step, Task
from a3t_actre.config import ActReSettings
from a3t_actre.core import ActReCore, trim_rationale
from tests.unit.fake_engine import FakeEngine

TASK = Task(env="alfworld", task_id="t1", instruction="Your task is to: put some pen on desk.")
OBS = "You are in the middle of a room. Your task is to: put some pen on desk."
HISTORY = (Step(action="go to desk 1", observation="You arrive at desk 1. You see a lamp 1."),)
PARAMS = GenerationParams(max_new_tokens=24)


def make_core(engine: FakeEngine) -> ActReCore:
    model = ServedModel("actre")
    model.attach(engine)
    return ActReCore(model, ActReSettings())


async def test_explain_prompts_with_the_action_and_not_its_outcome() -> None:
    engine = FakeEngine().reply("think: The pen could be in the drawer.\nopen drawer 1\nYou open")
    out = await make_core(engine).explain(
        task=TASK,
        initial_observation=OBS,
        history=HISTORY,
        action="  open   drawer 1 ",
        params=PARAMS,
        adapter="base",
    )
    (call,) = engine.generate_calls
    assert call.messages == actre_messages(TASK, OBS, HISTORY, "open drawer 1")
    assert "Next action: open drawer 1" in call.messages[-1].content
    assert (call.params, call.episode_id, call.adapter) == (PARAMS, None, "base")
    assert out.rationale == "The pen could be in the drawer."
    assert out.raw_text.startswith("think: The pen")
    assert out.usage.completion_tokens == len(out.raw_text.split()) + 1  # the fake's count


async def test_an_empty_answer_gives_an_empty_rationale_not_an_error() -> None:
    out = await make_core(FakeEngine().reply("\n  \n")).explain(
        task=TASK, initial_observation=OBS, history=(), action="look", params=PARAMS
    )
    assert out.rationale == "" and out.raw_text == "\n  \n"


async def test_errors() -> None:
    core = make_core(FakeEngine())
    with pytest.raises(InvalidArgument, match="action must be"):
        await core.explain(
            task=TASK, initial_observation=OBS, history=(), action=" ", params=PARAMS
        )
    with pytest.raises(InvalidArgument, match="task must be set"):
        await core.explain(
            task=Task(env="", task_id=""),
            initial_observation=OBS,
            history=(),
            action="look",
            params=PARAMS,
        )
    with pytest.raises(NotFound):
        await core.explain(
            task=TASK,
            initial_observation=OBS,
            history=(),
            action="look",
            params=PARAMS,
            adapter="x",
        )


@pytest.mark.parametrize(
    ("text", "rationale"),
    [
        ("think: The pen may be here.", "The pen may be here."),
        ("It helps. It is close.  It is cheap. And", "It helps. It is close."),
        # cut by max_new_tokens mid-sentence (seen from SmolLM2): the half sentence goes
        (
            "This is sensible because it moves on. It is a deliberate act, which",
            "This is sensible because it moves on.",
        ),
        ("no sentence end at all", "no sentence end at all"),
        ("First line.\nSecond line.", "First line."),
    ],
)
def test_trim_rationale(text: str, rationale: str) -> None:
    assert trim_rationale(text) == rationale
