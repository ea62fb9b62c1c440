"""Policy core over a scripted engine: output parsing, admissible matching, grounding, errors."""

from __future__ import annotations

import pytest

from a3t.envs import env_spec
from a3t.errors import ContextOverflow, InvalidArgument, NotFound, Unavailable, Unimplemented
from a3t.inference.base import GenerationParams, write_adapter_manifest
from a3t.inference.served import ServedModel
from a3t.prompts import policy_messages
from a3t.trajectory import Step, StepSource, Task
from a3t_policy.config import PolicySettings
from a3t_policy.core import NO_ACTION, PolicyCore, match_admissible, parse_output
from tests.unit.fake_engine import FakeEngine

TASK = Task(
    env="alfworld",
    task_id="t1",
    task_type="pick_and_place_simple",
    instruction="Your task is to: put some pen on desk.",
)
OBS = "You are in the middle of a room. Your task is to: put some pen on desk."
ADMISSIBLE = ("go to desk 1", "go to sidetable 1", "look", "inventory")
PARAMS = GenerationParams(max_new_tokens=32)


@pytest.mark.parametrize(
    ("text", "thought", "action", "parsed"),
    [
        (
            "think: Pens are on tables.\ngo to sidetable 1",
            "Pens are on tables.",
            "go to sidetable 1",
            True,
        ),
        ("go to desk 1", "", "go to desk 1", True),
        ("  \n> go to desk 1\n", "", "go to desk 1", True),
        ("Action: `go to desk 1`", "", "go to desk 1", True),
        ("Think: a\nthought: b\ngo to desk 1", "a b", "go to desk 1", True),
        # the model runs on into the next observation and a new turn: cut there
        (
            "think: check the desk\ngo to desk 1\nYou arrive at desk 1. On the desk 1, you see",
            "check the desk",
            "go to desk 1",
            True,
        ),
        ("think: x\ngo to desk 1\nuser\nNothing happens.", "x", "go to desk 1", True),
        ("think: I need a pen. Action: go to desk 1", "I need a pen.", "go to desk 1", True),
        # garbage: the first line verbatim, visible to the env as an invalid action
        ("think: I should find the pen", "", "think: I should find the pen", False),
        ("think: go\nYou arrive at desk 1.", "", "think: go", False),
        ("", "", NO_ACTION, False),
        ("   \n\n ", "", NO_ACTION, False),
        ("Action:", "", "Action:", False),
    ],
)
def test_parse_output(text: str, thought: str, action: str, parsed: bool) -> None:
    step = parse_output(text, 256, env_spec("alfworld").prompts.observation_start())
    assert (step.thought, step.action, step.parsed) == (thought, action, parsed)


def test_parse_output_cuts_long_garbage_to_the_env_limit() -> None:
    step = parse_output("x" * 1000, max_action_chars=100)
    assert step.action == "x" * 100
    assert parse_output("think: " + "y" * 500, max_action_chars=50).action == "think: " + "y" * 43


def test_match_admissible_ignores_case_spacing_quotes_and_final_period() -> None:
    assert match_admissible("Go to  Desk 1.", ADMISSIBLE) == "go to desk 1"
    assert match_admissible("'look'", ADMISSIBLE) == "look"
    assert match_admissible("go to desk 2", ADMISSIBLE) is None


def test_match_admissible_takes_an_action_the_model_ran_on_after() -> None:
    # seen from SmolLM2 on a real game
    assert match_admissible("go to sidetable 1, I take a book.", ADMISSIBLE) == "go to sidetable 1"
    assert match_admissible("look around the room", ADMISSIBLE) == "look"
    # only at a word boundary, and the longest admissible prefix wins
    assert match_admissible("go to desk 10", ADMISSIBLE) is None
    assert match_admissible("lookout", ADMISSIBLE) is None
    longer = (*ADMISSIBLE, "go to desk 1 quickly")
    assert match_admissible("go to desk 1 quickly, then look", longer) == "go to desk 1 quickly"


def make_core(engine: FakeEngine, **settings: object) -> PolicyCore:
    model = ServedModel("policy")
    model.attach(engine)
    return PolicyCore(model, PolicySettings(**settings))


async def test_act_prompts_with_policy_messages_and_returns_the_parsed_step() -> None:
    engine = FakeEngine().reply("think: Pens lie on sidetables.\ngo to sidetable 1")
    core = make_core(engine)
    history = (Step(action="look", observation="You see a desk 1.", thought="Look first."),)
    result = await core.act(
        task=TASK,
        initial_observation=OBS,
        history=history,
        params=PARAMS,
        admissible=ADMISSIBLE,
        episode_id="ep-1",
    )
    (call,) = engine.generate_calls
    assert call.messages == policy_messages(TASK, OBS, history)
    assert call.messages[1].content.startswith("-= Welcome")  # the 1-shot exemplar is there
    assert (call.params, call.episode_id, call.adapter) == (PARAMS, "ep-1", None)
    assert (result.thought, result.action) == ("Pens lie on sidetables.", "go to sidetable 1")
    assert result.source == StepSource.POLICY and result.replaced_action == ""
    assert result.raw_text == "think: Pens lie on sidetables.\ngo to sidetable 1"
    assert result.usage.completion_tokens == 10  # the fake counts words + 1


async def test_act_spells_an_admissible_action_as_the_env_does() -> None:
    core = make_core(FakeEngine().reply("Go to Desk 1."))
    result = await core.act(
        task=TASK, initial_observation=OBS, history=(), params=PARAMS, admissible=ADMISSIBLE
    )
    assert result.action == "go to desk 1" and result.source == StepSource.POLICY


async def test_grounding_replaces_an_inadmissible_action_by_the_best_scored_one() -> None:
    engine = FakeEngine(scores={"go to desk 1": -0.5, "look": -0.2, "inventory": -0.9})
    engine.reply("think: The pen may be in the drawer.\nopen drawer 9")
    core = make_core(engine)
    result = await core.act(
        task=TASK,
        initial_observation=OBS,
        history=(),
        params=PARAMS,
        admissible=ADMISSIBLE,
        ground=True,
    )
    assert result.action == "look"
    assert result.source == StepSource.GROUNDED
    assert result.replaced_action == "open drawer 9"
    assert result.thought == "The pen may be in the drawer."
    (score,) = engine.score_calls
    # scored as the continuation of the model's own thought, in the chat format
    assert score.prefix == "think: The pen may be in the drawer.\n"
    assert score.candidates == list(ADMISSIBLE)
    assert score.messages == engine.generate_calls[0].messages


async def test_grounding_keeps_free_text_where_the_env_lists_no_actions() -> None:
    """WebShop's search page takes any `search[...]`: it lists no admissible actions."""
    engine = FakeEngine(scores={"look": 0.0}).reply("think: find it\nsearch[red mug]")
    result = await make_core(engine, ground_actions=True).act(
        task=TASK, initial_observation=OBS, history=(), params=PARAMS, admissible=()
    )
    assert (result.action, result.source) == ("search[red mug]", StepSource.POLICY)
    assert not engine.score_calls


async def test_grounding_is_off_by_default_and_on_by_config() -> None:
    engine = FakeEngine(scores={"look": 0.0}).reply("fly away", "fly away")
    off = await make_core(engine).act(
        task=TASK, initial_observation=OBS, history=(), params=PARAMS, admissible=ADMISSIBLE
    )
    assert (off.action, off.source) == ("fly away", StepSource.POLICY) and not engine.score_calls
    on = await make_core(engine, ground_actions=True).act(
        task=TASK, initial_observation=OBS, history=(), params=PARAMS, admissible=ADMISSIBLE
    )
    assert (on.action, on.source, on.replaced_action) == ("look", StepSource.GROUNDED, "fly away")


async def test_grounding_leaves_an_admissible_action_alone() -> None:
    engine = FakeEngine(scores={"look": 0.0}).reply("go to desk 1")
    result = await make_core(engine).act(
        task=TASK,
        initial_observation=OBS,
        history=(),
        params=PARAMS,
        admissible=ADMISSIBLE,
        ground=True,
    )
    assert (result.action, result.source) == ("go to desk 1", StepSource.POLICY)
    assert not engine.score_calls


async def test_request_errors() -> None:
    core = make_core(FakeEngine())
    with pytest.raises(InvalidArgument, match=r"task\.env"):
        await core.act(
            task=Task(env="", task_id="x"), initial_observation=OBS, history=(), params=PARAMS
        )
    with pytest.raises(InvalidArgument, match="initial_observation"):
        await core.act(task=TASK, initial_observation=" ", history=(), params=PARAMS)
    with pytest.raises(InvalidArgument, match="'textcraft' is not a registered environment"):
        await core.act(
            task=Task(env="textcraft", task_id="x"),
            initial_observation=OBS,
            history=(),
            params=PARAMS,
        )
    with pytest.raises(NotFound, match="not loaded"):
        await core.act(task=TASK, initial_observation=OBS, history=(), params=PARAMS, adapter="r1")


async def test_grounding_on_an_engine_that_cannot_score_says_so() -> None:
    engine = FakeEngine().reply("fly")

    async def cannot(*args: object, **kwargs: object) -> list[float]:
        raise Unimplemented("the openai engine cannot score continuations")

    engine.score_continuations = cannot  # type: ignore[method-assign]
    with pytest.raises(Unimplemented):
        await make_core(engine).act(
            task=TASK,
            initial_observation=OBS,
            history=(),
            params=PARAMS,
            admissible=ADMISSIBLE,
            ground=True,
        )


async def test_adapters_episodes_and_a_model_still_loading(tmp_path) -> None:
    engine = FakeEngine()
    core = make_core(engine)
    write_adapter_manifest(str(tmp_path), base_model="fake/model", version=2)
    await core.model.load_adapter("r1", str(tmp_path), activate=True)
    active = await core.act(task=TASK, initial_observation=OBS, history=(), params=PARAMS)
    base = await core.act(
        task=TASK, initial_observation=OBS, history=(), params=PARAMS, adapter="base"
    )
    assert (active.adapter, base.adapter) == ("r1", "")
    assert [c.adapter for c in engine.generate_calls] == [None, "base"]
    # The base model gets the 1-shot exemplar; a trained adapter acts without it, as trained.
    with_adapter, with_base = (c.messages for c in engine.generate_calls)
    assert with_adapter == policy_messages(TASK, OBS, (), with_exemplar=False)
    assert with_base == policy_messages(TASK, OBS, ())
    assert len(with_base) > len(with_adapter) + 4

    await core.act(task=TASK, initial_observation=OBS, history=(), params=PARAMS, episode_id="e")
    assert core.end_episode("e") is True
    assert core.end_episode("e") is False and core.end_episode("") is False

    loading = PolicyCore(ServedModel("policy"), PolicySettings())
    with pytest.raises(Unavailable, match="still loading"):
        await loading.act(task=TASK, initial_observation=OBS, history=(), params=PARAMS)


def test_settings_problems() -> None:
    assert PolicySettings().problems() == []
    problems = PolicySettings(
        engine="openai", endpoint="", ground_actions=True, max_new_tokens=0, port=-1
    ).problems()
    text = "\n".join(problems)
    for expected in ("port must be", "max_new_tokens", "endpoint must be", "ground_actions needs"):
        assert expected in text
    assert "engine must be one of" in "\n".join(PolicySettings(engine="vllm").problems())


async def test_a_history_longer_than_the_context_loses_its_oldest_steps():
    history = [
        Step(thought="", action=f"go to shelf {i}", observation=f"You arrive at shelf {i}.")
        for i in range(1, 13)
    ]
    full = sum(len(m.content.split()) for m in policy_messages(TASK, OBS, history))
    engine = FakeEngine(max_prompt_words=full - 20).reply("go to desk 1")
    result = await make_core(engine).act(
        task=TASK, initial_observation=OBS, history=history, params=PARAMS
    )
    assert result.action == "go to desk 1"
    sent = "\n".join(m.content for m in engine.generate_calls[-1].messages)
    assert OBS in sent and "shelf 12." in sent  # the task and the latest step stay
    assert "shelf 1." not in sent  # the oldest step went


async def test_a_prompt_that_cannot_fit_is_a_clear_error():
    engine = FakeEngine(max_prompt_words=3)
    with pytest.raises(ContextOverflow, match="context"):
        await make_core(engine).act(task=TASK, initial_observation=OBS, history=[], params=PARAMS)
