"""Critic core over a scripted engine: strict verdict parsing, the one repair retry, rubrics."""

from __future__ import annotations

import math

import pytest

from a3t.errors import InvalidArgument
from a3t.inference.base import GenerationParams
from a3t.inference.served import ServedModel
from a3t.prompts import CRITIC_FORMAT, CRITIC_QUESTION, RUBRICS, critic_messages
from a3t.trajectory import Step, Task, Trajectory
from a3t_critic.config import CriticSettings
from a3t_critic.core import CriticCore, Verdict, parse_verdict
from tests.unit.fake_engine import FakeEngine

TRAJ = Trajectory(
    task=Task(env="apibank", task_id="d1", instruction="Book a meeting at 3pm."),
    initial_observation="User: book a meeting at 3pm",
    steps=(Step(action="API-Request: [AddMeeting(time='15:00')]", observation="ok"),),
)
PARAMS = GenerationParams(max_new_tokens=64)
GOOD = '{"score": 8, "verdict": "success", "reasons": ["right API", " right time "]}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, Verdict(8.0, "success", ("right API", "right time"))),
        (
            'Here it is:\n```json\n{"score": 2.5, "verdict": "Failure", "reasons": []}\n```',
            Verdict(2.5, "failure", ()),
        ),
        (
            '{"score": 0, "verdict": "partial", "reasons": ["a"], "extra": 1} trailing',
            Verdict(0.0, "partial", ("a",)),
        ),
    ],
)
def test_parse_verdict_reads_json_objects(text: str, expected: Verdict) -> None:
    assert parse_verdict(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("score: 8, success", "no JSON object"),
        ("{'score': 8}", "does not parse"),
        ('{"score": 8, "verdict": "success"}', "lacks ['reasons']"),
        ('{"score": "8", "verdict": "success", "reasons": []}', "score must be a number"),
        ('{"score": true, "verdict": "success", "reasons": []}', "score must be a number"),
        ('{"score": 11, "verdict": "success", "reasons": []}', "between 0 and 10"),
        ('{"score": 5, "verdict": "great", "reasons": []}', "verdict must be one of"),
        ('{"score": 5, "verdict": "partial", "reasons": "ok"}', "list of strings"),
        ("[1, 2]", "no JSON object"),
    ],
)
def test_parse_verdict_refuses_anything_else(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_verdict(text)


def make_core(engine: FakeEngine, rubrics: dict[str, str] | None = None) -> CriticCore:
    model = ServedModel("critic")
    model.attach(engine)
    return CriticCore(model, CriticSettings(), rubrics or dict(RUBRICS))


async def test_a_good_answer_scores_at_once() -> None:
    engine = FakeEngine().reply(GOOD)
    result = await make_core(engine).score(TRAJ, PARAMS, rubric="tool_use")
    assert result.verdict == Verdict(8.0, "success", ("right API", "right time"))
    assert result.attempts == 1 and result.raw_text == GOOD
    (call,) = engine.generate_calls
    assert call.messages == critic_messages(TRAJ, "tool_use")
    assert RUBRICS["tool_use"] in call.messages[-1].content


async def test_a_bad_answer_is_repaired_once_with_the_reason() -> None:
    engine = FakeEngine().reply("I think it went well, 9/10.", GOOD)
    result = await make_core(engine).score(TRAJ, PARAMS)
    assert result.verdict is not None and result.verdict.score == 8.0
    assert result.attempts == 2
    first, second = engine.generate_calls
    assert second.messages[: len(first.messages)] == first.messages
    assert second.messages[-2].role == "assistant"
    assert second.messages[-2].content == "I think it went well, 9/10."
    assert "no JSON object" in second.messages[-1].content
    assert CRITIC_FORMAT in second.messages[-1].content
    # usage covers both calls (the fake counts words + 1 per call)
    words = len(["I", "think", "it", "went", "well,", "9/10."]) + len(GOOD.split())
    assert result.usage.completion_tokens == words + 2


async def test_an_answer_that_stays_unreadable_is_unparseable_never_a_score() -> None:
    engine = FakeEngine().reply("great job", '{"score": 12, "verdict": "success", "reasons": []}')
    result = await make_core(engine).score(TRAJ, PARAMS)
    assert result.verdict is None
    assert result.attempts == 2
    assert result.raw_text.startswith('{"score": 12')
    assert len(engine.generate_calls) == 2


async def test_rubrics_and_errors(tmp_path) -> None:
    custom = {**RUBRICS, "strict": "Only a perfect run scores above 5."}
    engine = FakeEngine().reply(GOOD)
    core = make_core(engine, custom)
    await core.score(TRAJ, PARAMS, rubric="strict")
    assert "Only a perfect run" in engine.generate_calls[0].messages[-1].content
    with pytest.raises(InvalidArgument, match="rubric 'nope' is not configured"):
        await core.score(TRAJ, PARAMS, rubric="nope")
    with pytest.raises(InvalidArgument, match="no steps"):
        await core.score(Trajectory(task=TRAJ.task, initial_observation="x"), PARAMS)


def test_settings_rubrics_file(tmp_path) -> None:
    path = tmp_path / "rubrics.yaml"
    path.write_text("strict: Only a perfect run scores above 5.\n")
    settings = CriticSettings(rubrics_file=path, rubric="strict")
    assert settings.problems() == []
    assert settings.rubrics()["strict"].startswith("Only") and "default" in settings.rubrics()
    path.write_text("- a list\n")
    assert "must map rubric names" in "\n".join(settings.problems())
    assert "rubric must be one of" in "\n".join(CriticSettings(rubric="zz").problems())
    missing = CriticSettings(rubrics_file=tmp_path / "none.yaml").problems()
    assert any("none.yaml" in p for p in missing)


async def test_probability_scoring_reads_the_answer_probabilities_not_text() -> None:
    engine = FakeEngine(scores={"yes": -0.5, "no": -1.5})
    model = ServedModel("critic")
    model.attach(engine)
    core = CriticCore(model, CriticSettings(scoring="probability"), dict(RUBRICS))
    result = await core.score(TRAJ, PARAMS)
    p_yes = 1 / (1 + math.exp(-1.0))  # softmax of -0.5 vs -1.5
    assert result.verdict == Verdict(
        round(10 * p_yes, 4),
        "success",
        (f"P(yes) = {p_yes:.3f} from the model's answer probabilities",),
    )
    assert result.attempts == 1 and not engine.generate_calls
    (call,) = engine.score_calls
    assert call.candidates == ["yes", "no"] and call.prefix == ""
    # The same transcript and rubric as the text critic, ending with the yes/no question.
    assert call.messages == critic_messages(TRAJ, "tool_use", RUBRICS, question=True)
    assert call.messages[-1].content.endswith(CRITIC_QUESTION)

    engine.scores = {"yes": -3.0, "no": -0.2}
    worse = await core.score(TRAJ, PARAMS)
    assert worse.verdict.verdict == "failure" and worse.verdict.score < 1.0


def test_probability_scoring_needs_an_engine_that_scores() -> None:
    problems = CriticSettings(
        scoring="probability", engine="openai", endpoint="http://x"
    ).problems()
    assert any("scoring 'probability' needs an engine" in p for p in problems)
    assert any("scoring must be one of" in p for p in CriticSettings(scoring="vibes").problems())
