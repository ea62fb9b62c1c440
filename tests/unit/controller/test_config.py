"""ExperimentConfig from YAML-ish dicts: types checked field by field, every problem at once."""

import pytest

from a3t.errors import ConfigError, InvalidArgument
from a3t_controller.cli import _parse_set
from a3t_controller.config import SELECTORS, ExperimentConfig, load_config_yaml


def test_values_take_the_field_types():
    config = ExperimentConfig.from_dict(
        {
            "rounds": 2,
            "learning_rate": 3,  # an int is a valid float
            "explore_probability": [1, 0.5],
            "lora_target_modules": ["q_proj"],
        }
    )
    assert config.learning_rate == 3.0 and isinstance(config.learning_rate, float)
    assert config.explore_probability == (1.0, 0.5)
    assert config.lora_target_modules == ("q_proj",)
    # A single value where a list is expected is a one-element schedule.
    assert ExperimentConfig.from_dict({"explore_probability": 0.3}).explore_probability == (0.3,)


def test_yaml_exponent_without_a_dot_is_a_float():
    # YAML 1.1 reads 1e-3 as the string '1e-3'; `--set learning_rate=1e-3` must still work.
    values = _parse_set(["learning_rate=1e-3", "use_actre=false"])
    assert values == {"learning_rate": "1e-3", "use_actre": False}
    assert ExperimentConfig.from_dict(values).learning_rate == 0.001


def test_wrong_types_are_all_reported_by_name():
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict(
            {"rounds": "two", "use_actre": 1, "lora_target_modules": [1], "learning_rate": "fast"}
        )
    text = str(err.value)
    assert "rounds must be int, got 'two'" in text
    assert "use_actre must be bool, got 1" in text
    assert "lora_target_modules must be a list of str values, got [1]" in text
    assert "learning_rate must be a finite float, got 'fast'" in text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf", ".nan"])
def test_non_finite_floats_are_refused(value):
    with pytest.raises(ConfigError, match="learning_rate must be a finite float"):
        ExperimentConfig.from_dict({"learning_rate": value})
    with pytest.raises(ConfigError, match="explore_probability must be a list of finite float"):
        ExperimentConfig.from_dict({"explore_probability": [1.0, value]})


def test_a_huge_value_is_cut_short_in_the_message():
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict({"rounds": "x" * 1_000_000, "max_steps": list(range(10**5))})
    assert len(str(err.value)) < 600
    assert "(1000000 characters)" in str(err.value)


def test_yaml_aliases_are_refused_before_they_expand():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    bomb += "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nrounds: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    with pytest.raises(InvalidArgument) as err:
        load_config_yaml(bomb, "config_yaml")
    assert "config_yaml does not parse: line 2: YAML aliases (*name) are not accepted" in str(
        err.value
    )
    assert load_config_yaml("rounds: 2\n", "f.yaml") == {"rounds": 2}
    with pytest.raises(InvalidArgument, match=r"f\.yaml must be a mapping"):
        load_config_yaml("- 1\n", "f.yaml")


def test_unknown_keys_are_refused():
    with pytest.raises(ConfigError, match=r"unknown experiment config keys \['epoch'\]"):
        ExperimentConfig.from_dict({"epoch": 3})


def test_use_actre_defaults_to_the_envs_way_of_exploring():
    # API-Bank's requests cannot be enumerated: it explores by temperature, ALFWorld with ActRe.
    assert ExperimentConfig.from_dict({"env": "apibank"}).use_actre is False
    assert ExperimentConfig.from_dict({"env": "alfworld"}).use_actre is True
    assert ExperimentConfig.from_dict({}).use_actre is True  # the default env, alfworld
    # A config that sets it wins either way.
    assert ExperimentConfig.from_dict({"env": "apibank", "use_actre": True}).use_actre is True
    assert ExperimentConfig.from_dict({"env": "alfworld", "use_actre": False}).use_actre is False


def test_explore_probability_defaults_to_the_envs():
    # API-Bank's K attempts are temperature samples at every step; ALFWorld keeps the paper's 0.1.
    assert ExperimentConfig.from_dict({"env": "apibank"}).explore_probability == (1.0,)
    assert ExperimentConfig.from_dict({"env": "alfworld"}).explore_probability == (0.1,)
    given = {"env": "apibank", "explore_probability": [0.5]}
    assert ExperimentConfig.from_dict(given).explore_probability == (0.5,)


def test_critic_loop_selectors_train_sft_unless_told_otherwise():
    sft = {s: ExperimentConfig.from_dict({"selector": s}).sft_only for s in SELECTORS}
    assert sft == {
        "env": False,
        "critic": True,
        "hybrid": False,
        "oracle": True,
        "random": True,
    }
    # sft_only: false keeps the contrastive variant; env selection can still ask for SFT.
    assert ExperimentConfig.from_dict({"selector": "critic", "sft_only": False}).sft_only is False
    assert ExperimentConfig.from_dict({"selector": "env", "sft_only": True}).sft_only is True


def test_exploration_stops_at_the_wins_selection_can_keep():
    def needed(**given):
        return ExperimentConfig.from_dict(given).explore_wins_needed()

    assert needed() == 5  # ALFWorld: the env selector's cap, max_positives_per_task
    assert needed(max_positives_per_task=2) == 2
    assert needed(max_positives_per_task=1, explore_wins=3) == 3  # keep the shortest of 3
    assert needed(env="webshop") == 1  # WebShop stops at the first success
    assert [needed(selector=s) for s in ("critic", "hybrid", "oracle", "random")] == [0] * 4


def test_a_negative_explore_step_budget_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"explore_step_budget must be >= 0 .*got -1"):
        ExperimentConfig.from_dict({"explore_step_budget": -1})
    assert ExperimentConfig.from_dict({"explore_step_budget": 900}).explore_step_budget == 900
    with pytest.raises(ConfigError, match=r"explore_wins must be >= 0 .*got -2"):
        ExperimentConfig.from_dict({"explore_wins": -2})


def test_unknown_selector_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"selector must be one of .*'oracle', 'random'.*'best'"):
        ExperimentConfig.from_dict({"selector": "best"})


def test_chat_data_ratio_is_checked_and_needs_a_file():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict({"chat_data_ratio": 0.5})
    assert "chat_data_ratio > 0 needs chat_data_uri" in str(info.value)
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict({"chat_data_ratio": float("nan"), "chat_data_uri": "c.jsonl"})
    assert "chat_data_ratio must be a finite float, got nan" in str(info.value)
    ok = ExperimentConfig.from_dict({"chat_data_ratio": 0.25, "chat_data_uri": "c.jsonl"})
    assert ok.chat_data_ratio == 0.25
