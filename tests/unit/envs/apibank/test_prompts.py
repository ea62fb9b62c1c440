"""API-Bank's plugin spec and prompts: the exemplar and ActRe transcripts are what the engine
renders (made-up APIs, so rendered with the engine's functions, not played)."""

from __future__ import annotations

import json
import subprocess
import sys

from a3t.envs import ENVIRONMENTS, env_spec
from a3t.envs.apibank import SPEC
from a3t.envs.apibank import prompts as p
from a3t.envs.apibank.apis import ApiResult
from a3t.envs.apibank.calls import CallError, parse_call, render
from a3t.envs.apibank.engine import error_observation, first_observation, result_observation
from a3t.envs.apibank.release import Item
from a3t.prompts import RUBRICS


def made_up(descriptions: tuple[str, ...], dialogue: str) -> Item:
    return Item(
        "made-up/0",
        "made-up.jsonl",
        0,
        descriptions,
        dialogue,
        "The current year is 2023.",
        "",
        "",
        (),
    )


def test_spec() -> None:
    assert ENVIRONMENTS["apibank"] is SPEC is env_spec("apibank")
    assert SPEC.engine == "a3t.envs.apibank.engine:ApiBankEnvironment"
    assert (SPEC.defaults.max_steps, SPEC.defaults.explore_attempts) == (3, 8)
    assert SPEC.defaults.stop_at_first_success is False
    assert SPEC.max_action_chars == 2048
    assert SPEC.mean_score is False
    assert p.PROMPTS.critic_rubric == "tool_use" and "tool_use" in RUBRICS
    assert p.PROMPTS.example("QueryStock") is p.EXAMPLE


def test_importing_the_spec_loads_no_engine() -> None:
    code = (
        "import sys, a3t.envs; "
        "print(sorted(m for m in sys.modules if m.startswith('a3t.envs.apibank')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['a3t.envs.apibank', 'a3t.envs.apibank.prompts']"


def test_exemplar_is_what_the_engine_renders() -> None:
    assert p.EXAMPLE.observation == first_observation(
        made_up(p.WEATHER_DESCRIPTIONS, p.WEATHER_DIALOGUE)
    )
    ((_thought, action, observation),) = p.EXAMPLE.steps
    call = parse_call(action)
    assert action == f"API-Request: {render(call)}"
    result = ApiResult(call.name, dict(call.args), "Sunny, 24 C, no rain expected.", None)
    assert observation == result_observation(render(call), result)
    for line in (*p.WEATHER_DESCRIPTIONS, *p.TODO_DESCRIPTIONS):
        assert sorted(json.loads(line)) == [
            "description",
            "input_parameters",
            "name",
            "output_parameters",
        ]


def test_actre_transcripts_are_what_the_engine_renders() -> None:
    weather, todo, retry = p.ACTRE_EXAMPLES
    assert weather.transcript == p.WEATHER_OBSERVATION
    assert todo.transcript == first_observation(made_up(p.TODO_DESCRIPTIONS, p.TODO_DIALOGUE))
    try:
        parse_call(p.POSITIONAL_REQUEST)
    except CallError as e:
        refused = error_observation(e)
    assert retry.transcript == f"{p.WEATHER_OBSERVATION}\n> {p.POSITIONAL_REQUEST}\n{refused}"
    for example in p.ACTRE_EXAMPLES:
        assert example.action == f"API-Request: {render(parse_call(example.action))}"
        assert example.rationale.endswith(".") and "\n" not in example.rationale


def test_exemplar_messages() -> None:
    messages = p.PROMPTS.exemplar_messages("Wiki")
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert messages[1].content == (
        "think: The user asks about the weather in Lisbon on May 3rd. GetWeather takes a city "
        "and a date; the year is 2023, so the date is 2023-05-03.\n"
        "API-Request: [GetWeather(city='Lisbon', date='2023-05-03')]"
    )


def test_observation_starts_cut_a_run_on_model_but_never_the_request() -> None:
    pattern = p.PROMPTS.observation_start()
    for line in (
        "API descriptions:",
        "User: hi",
        "AI: Sure.",
        "Error: unknown API 'X'",
        "->Sunny",
        "Generate the API request the dialogue calls for.",
    ):
        assert pattern.match(line), line
    for line in (p.WEATHER_REQUEST, "[GetToday()]", "think: the user wants the weather"):
        assert not pattern.match(line), line
