"""WebShop's plugin spec and prompts: the exemplar is exactly what the engine renders."""

from __future__ import annotations

import subprocess
import sys

from a3t.envs.webshop import SPEC
from a3t.envs.webshop.prompts import ACTRE_EXAMPLES, EXAMPLE, PROMPTS
from tests.unit.envs.webshop import scenario


def test_spec() -> None:
    assert SPEC.name == "webshop"
    assert SPEC.engine == "a3t.envs.webshop.engine:WebShopEnvironment"
    assert (SPEC.defaults.max_steps, SPEC.defaults.explore_attempts) == (15, 20)
    assert SPEC.defaults.stop_at_first_success is True
    assert SPEC.defaults.explore_only_prefixes == ("click[",)
    assert SPEC.max_action_chars == 512
    assert PROMPTS.critic_rubric == "default"
    assert PROMPTS.example("fashion") is EXAMPLE  # one exemplar for every category


def test_importing_the_spec_loads_no_engine_dependency() -> None:
    code = (
        "import sys, a3t.envs.webshop; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'bm25s', 'numpy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exemplar_is_what_the_engine_renders() -> None:
    game = scenario.game()
    _, state = game.reset()
    assert EXAMPLE.observation == state.observation
    for _thought, action, observation in EXAMPLE.steps:
        assert action in state.admissible or action.startswith("search[")
        state = game.step(action)
        assert state.observation == observation
    assert (state.reward, state.won) == (1.0, True)


def test_actre_transcripts_are_what_the_engine_renders() -> None:
    assert len(ACTRE_EXAMPLES) == 4
    for example in ACTRE_EXAMPLES:
        first, *rest = example.transcript.split("\n")
        game = scenario.game()
        _, state = game.reset()
        assert state.observation == first
        for command, observation in zip(rest[::2], rest[1::2], strict=True):
            state = game.step(command.removeprefix("> "))
            assert state.observation == observation
        assert example.action in state.admissible or example.action.startswith("search[")
        assert example.rationale.endswith(".") and "\n" not in example.rationale


def test_exemplar_messages() -> None:
    messages = PROMPTS.exemplar_messages("beauty")
    assert [m.role for m in messages] == ["user"] + ["assistant", "user"] * 4
    assert messages[1].content == (
        "think: I need a sulfate free shampoo for dry hair, 16 fl oz, under 20 dollars. I search "
        "for those words.\nsearch[sulfate free shampoo dry hair]"
    )


def test_observation_starts_stop_a_run_on_model() -> None:
    pattern = PROMPTS.observation_start()
    game = scenario.game()
    _, state = game.reset()
    pages = [state.observation]
    for action in ("search[shampoo]", "click[B09SFD2HQ4]", "click[16 fl oz]", "click[x]"):
        pages.append(game.step(action).observation)
    pages.append(game.step("click[Buy Now]").observation)
    assert all(pattern.match(page) for page in pages)
    for step_line in ("think: the first one is too expensive", "click[Buy Now]", "search[soap]"):
        assert not pattern.match(step_line)
