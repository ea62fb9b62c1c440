"""Experiment settings from generated YAML documents and `--set KEY=VALUE` strings: a valid
ExperimentConfig or a ConfigError / InvalidArgument that says what was wrong (the two errors
`a3t run` prints and CreateExperiment answers as INVALID_ARGUMENT), never another exception.

Found with these properties (each now a fixed case below): YAML that safe_load cannot build
(`2001-13-01`, a 5000-digit int) raised ValueError, deep nesting RecursionError, a bad `--set`
value a raw YAML ParserError, and a non-string key TypeError from sorting the unknown keys.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from a3t.errors import ConfigError, InvalidArgument
from a3t_controller.cli import LOCAL_DEFAULTS, _parse_set
from a3t_controller.config import ExperimentConfig, load_config_yaml
from tests.property.strategies import hostile_text

FIELDS = [f.name for f in dataclasses.fields(ExperimentConfig)]
MESSAGE_CHARS = 4000  # a message stays short whatever the input's size


def _settle(make) -> ExperimentConfig | None:
    """The config `make()` builds, or None after checking its error is one a user is shown."""
    try:
        config = make()
    except (ConfigError, InvalidArgument) as exc:
        assert str(exc).strip() and len(str(exc)) < MESSAGE_CHARS, str(exc)[:500]
        return None
    assert isinstance(config, ExperimentConfig) and config.problems() == []
    return config


_yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    hostile_text(40),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=10),
)
_yaml_values = st.recursive(_yaml_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_keys = st.one_of(st.sampled_from(FIELDS), hostile_text(20), st.integers(), st.none())


def _documents() -> st.SearchStrategy[str]:
    """Real YAML mappings (some with only known fields, typed right or not), YAML-ish text, and
    any text."""
    known = st.dictionaries(st.sampled_from(FIELDS), _yaml_values, max_size=5)
    anything = st.dictionaries(_keys, _yaml_values, max_size=4)
    piece = st.sampled_from(
        ["rounds: ", "explore_probability: ", "- ", "[", "]", "{", "}", "&a ", "*a", "!!binary ",
         "!!python/object:os.system ", "2001-13-01", "9" * 5000, ".nan", "\n", "  ", ": ", "? ",
         "%YAML 1.1\n", "---\n", "'", '"', "#"]
    )  # fmt: skip
    return st.one_of(
        st.one_of(known, anything).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        st.lists(st.one_of(piece, hostile_text(20)), max_size=12).map("".join),
        hostile_text(),
    )


@given(text=_documents())
def test_yaml_document_gives_a_config_or_a_clear_error(text):
    _settle(lambda: ExperimentConfig.from_dict(load_config_yaml(text, "config_yaml")))


@given(
    items=st.lists(
        st.one_of(
            st.tuples(st.sampled_from(FIELDS), hostile_text(60)).map("=".join),
            st.tuples(st.sampled_from(FIELDS), _yaml_values).map(
                lambda kv: f"{kv[0]}={yaml.safe_dump(kv[1], default_flow_style=True)}"
            ),
            hostile_text(),
        ),
        max_size=4,
    )
)
def test_set_strings_give_a_config_or_a_clear_error(items):
    # What `a3t run` does with its --set flags: over the local profile's defaults.
    _settle(lambda: ExperimentConfig.from_dict({**LOCAL_DEFAULTS, **_parse_set(items)}))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("rounds: 2001-13-01", "config_yaml holds a value YAML cannot read: month must be in"),
        ("rounds: " + "9" * 5000, "config_yaml holds a value YAML cannot read: Exceeds the limit"),
        ("rounds: " + "[" * 10_000, "config_yaml nests too deeply"),
        ("1: 2\nrounds: 3", "unknown experiment config keys [1]"),
        ("null: 2\nzz: 3", "unknown experiment config keys [None, 'zz']"),
    ],
)
def test_yaml_found_cases(text, why):
    with pytest.raises((ConfigError, InvalidArgument)) as err:
        ExperimentConfig.from_dict(load_config_yaml(text, "config_yaml"))
    assert why in str(err.value)


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("rounds=[", "--set rounds does not parse"),
        ("rounds=&a [*a]", "--set rounds does not parse: line 1: YAML aliases"),
        ("max_steps=2001-13-01", "--set max_steps holds a value YAML cannot read"),
    ],
)
def test_set_found_cases(item, why):
    with pytest.raises(InvalidArgument) as err:
        _parse_set([item])
    assert why in str(err.value)


def test_a_date_is_refused_by_field_name():
    # A YAML date is a valid document but not an int: the type check names the field.
    assert _parse_set(["rounds=2001-12-01"]) == {"rounds": datetime.date(2001, 12, 1)}
    with pytest.raises(ConfigError, match=r"rounds must be int, got datetime\.date"):
        ExperimentConfig.from_dict(_parse_set(["rounds=2001-12-01"]))
