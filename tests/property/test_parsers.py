"""Every parser of model output, fed generated text: a normal result or the parser's documented
error (critic: ValueError, API-Bank: CallError), never another exception.

The parsers: the policy's ReAct step (`a3t_policy.core.parse_output`, which never raises), the
admissible-action matcher, ActRe's rationale (`a3t_actre.core.trim_rationale`), the critic's JSON
verdict, API-Bank's request, and WebShop's `search[...]` / `click[...]` (a real game over a
generated catalogue).
"""

from __future__ import annotations

import json
import keyword
import math
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from a3t.envs import ENVIRONMENTS
from a3t.envs.apibank.calls import ApiCall, CallError, parse_call, render
from a3t.envs.webshop.engine import WebShopEnvironment
from a3t_actre.core import trim_rationale
from a3t_critic.core import VERDICTS, parse_verdict
from a3t_policy.core import NO_ACTION, match_admissible, parse_output
from tests.property.strategies import hostile_text

OBSERVATION_STARTS = [None] + [spec.prompts.observation_start() for spec in ENVIRONMENTS.values()]


def _model_output() -> st.SearchStrategy[str]:
    """Free text, and text assembled from the pieces a ReAct step is made of."""
    piece = st.sampled_from(
        ["think:", "Think: ", "Action:", "> ", "act:", "`", '"', "\n", "user", "assistant:",
         "<|im_start|>", "Observation:", "go to desk 1", "search[red shoes]", "click[Buy Now]",
         "[QueryStock(stock_code='AAPL')]", ".", " "]
    )  # fmt: skip
    return st.one_of(
        hostile_text(), st.lists(st.one_of(piece, hostile_text(20)), max_size=12).map("".join)
    )


# --- policy


@given(
    text=_model_output(),
    max_chars=st.integers(16, 600),  # PolicySettings refuses less than 16
    observation_start=st.sampled_from(OBSERVATION_STARTS),
)
def test_policy_parse_output_always_gives_an_action(text, max_chars, observation_start):
    step = parse_output(text, max_chars, observation_start)
    assert step.action and len(step.action) <= max_chars
    assert step.action == step.action.strip() and len(step.action.splitlines()) == 1
    assert len(step.thought.splitlines()) <= 1
    if not step.parsed:
        assert step.thought == ""
        assert step.action == NO_ACTION or step.action in text


@given(action=_model_output(), admissible=st.lists(_model_output(), max_size=6))
def test_match_admissible_returns_one_of_them(action, admissible):
    matched = match_admissible(action, admissible)
    assert matched is None or matched in admissible
    if action in admissible:
        assert matched == action


# --- actre


@given(text=_model_output())
def test_actre_rationale_is_one_clean_line(text):
    rationale = trim_rationale(text)
    assert rationale == " ".join(rationale.split())  # one line, single spaces
    assert len(rationale) <= len(text)


# --- critic

_json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _critic_answer() -> st.SearchStrategy[str]:
    """Prose around a JSON object whose three fields are sometimes right and sometimes not."""
    fields = st.fixed_dictionaries(
        {},
        optional={
            "score": st.one_of(st.integers(-5, 15), st.floats(), _json_values),
            "verdict": st.one_of(st.sampled_from((*VERDICTS, " Success ", "win")), _json_values),
            "reasons": st.one_of(st.lists(st.text(max_size=30), max_size=3), _json_values),
        },
    )
    return st.one_of(
        hostile_text(),
        st.tuples(hostile_text(40), fields, hostile_text(40)).map(
            lambda t: t[0] + json.dumps(t[1]) + t[2]
        ),
    )


@given(text=_critic_answer())
def test_critic_verdict_reads_or_says_why(text):
    try:
        verdict = parse_verdict(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert 0 <= verdict.score <= 10 and math.isfinite(verdict.score)
    assert verdict.verdict in VERDICTS
    assert all(isinstance(r, str) and r == r.strip() and r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"score": ' + "[" * 100_000, "nests too deeply"),  # was RecursionError
        ('{"score": 1e999, "verdict": "success", "reasons": []}', "score must be a number"),
    ],
)
def test_critic_verdict_found_cases(text, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_verdict(text)


# --- API-Bank

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n) and n not in ("True", "False", "None")
)
_literals = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@given(text=st.one_of(hostile_text(), _model_output()))
def test_apibank_parse_call_reads_or_says_why(text):
    try:
        call = parse_call(text)
    except CallError as exc:
        assert str(exc)
        return
    assert isinstance(call, ApiCall) and call.name.isidentifier()


@given(
    name=_names,
    args=st.lists(st.tuples(_names, _literals), max_size=4, unique_by=lambda a: a[0]),
    prefix=st.sampled_from(["", "API-Request: ", "  api-request:", "\n"]),
    suffix=st.sampled_from(["", "  ", "->{'result': 1}"]),
)
def test_apibank_rendered_call_parses_back(name, args, prefix, suffix):
    call = ApiCall(name, tuple(args))
    text = render(call)
    assume(suffix != "->{'result': 1}" or text.endswith(")]"))
    parsed = parse_call(prefix + text + suffix)
    assert render(parsed) == text


# --- WebShop


@pytest.fixture(scope="module")
def webshop_game(tmp_path_factory):
    env = WebShopEnvironment(tmp_path_factory.mktemp("webshop"))
    env.generate("shop", level=1, seed=3, count=4, task_types=())
    return env.load(env.list_tasks("shop")[0])


_ACTION = re.compile(r"(\w+)\[(.*)\]", re.DOTALL)


@given(
    actions=st.lists(
        st.one_of(
            hostile_text(),
            st.tuples(st.sampled_from(["search", "click", "SEARCH", "buy", ""]), hostile_text(60))
            .map(lambda t: f"{t[0]}[{t[1]}]"),
            st.sampled_from(["click[Back to Search]", "click[< Prev]", "click[Next >]",
                             "search[shoes]", "click[Buy Now]", "click[Description]"]),
        ),
        min_size=1,
        max_size=6,
    )
)  # fmt: skip
def test_webshop_actions_get_a_page_or_invalid_action(webshop_game, actions):
    _, state = webshop_game.reset()
    for action in actions:
        if state.done:
            break
        state = webshop_game.step(action)
        assert isinstance(state.observation, str) and state.observation
        if not _ACTION.fullmatch(action.strip()):
            assert state.observation.startswith("Invalid action! ")
            assert "is not an action" in state.observation
        assert all(a.startswith("click[") for a in state.admissible)
        assert 0 <= state.reward <= 1
