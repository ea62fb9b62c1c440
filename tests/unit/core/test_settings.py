from dataclasses import dataclass
from pathlib import Path

import pytest

from a3t.errors import ConfigError
from a3t.settings import load_settings


@dataclass(frozen=True)
class Demo:
    """demo service"""

    port: int = 1
    ratio: float = 0.5
    name: str = "x"
    verbose: bool = False
    root: Path = Path("var")
    tags: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        return [] if self.port >= 0 else [f"port must be >= 0, got {self.port}"]


def test_defaults():
    assert load_settings(Demo, "demo", [], environ={}) == Demo()


def test_layers_override_in_order(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("port: 2\nratio: 0.25\nname: yaml\ntags: [a, b]\n")
    env = {"A3T_DEMO_PORT": "3", "A3T_DEMO_VERBOSE": "yes"}
    s = load_settings(Demo, "demo", ["--config", str(cfg), "--port", "4"], environ=env)
    assert s == Demo(port=4, ratio=0.25, name="yaml", verbose=True, tags=("a", "b"))
    s = load_settings(Demo, "demo", ["--config", str(cfg)], environ=env)
    assert s.port == 3
    assert load_settings(Demo, "demo", ["--tags", "x, y"], environ={}).tags == ("x", "y")


def test_all_problems_reported_together(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("prot: 2\nratio: lots\n")
    with pytest.raises(ConfigError) as info:
        load_settings(Demo, "demo", ["--config", str(cfg), "--verbose", "maybe"], environ={})
    problems = info.value.problems
    assert len(problems) == 3
    assert any("unknown key 'prot'" in p for p in problems)
    assert any("ratio" in p and "lots" in p for p in problems)
    assert any("--verbose" in p and "true/false" in p for p in problems)


def test_validation_problems(tmp_path):
    with pytest.raises(ConfigError, match=r"port must be >= 0, got -1"):
        load_settings(Demo, "demo", ["--port", "-1"], environ={})


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_settings(Demo, "demo", ["--config", str(tmp_path / "missing.yaml")], environ={})


def test_help_names_each_flags_type_default_and_env_var(capsys):
    with pytest.raises(SystemExit) as info:
        load_settings(Demo, "demo", ["--help"], {})
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--port INT default 1; env A3T_DEMO_PORT" in out
    assert "--root PATH default var; env A3T_DEMO_ROOT" in out
    assert "<class" not in out


def test_a_bare_boolean_flag_means_true():
    assert load_settings(Demo, "demo", ["--verbose"], environ={}).verbose is True
    assert load_settings(Demo, "demo", ["--verbose", "--port", "5"], environ={}) == Demo(
        port=5, verbose=True
    )
    env = {"A3T_DEMO_VERBOSE": "true"}
    assert load_settings(Demo, "demo", ["--verbose", "false"], environ=env).verbose is False
