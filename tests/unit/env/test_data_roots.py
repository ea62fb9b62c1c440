"""An env served from several data roots: its own (written to) and read-only ones. The settings
(env_read_only_roots through every layer, and every problem in one error), and EnvCore over real
directories with a fake runner: splits listed and opened from the root that has them, a split in
two roots refused, generation never writing over a read-only split, links out of a read-only
root refused."""

from pathlib import Path

import pytest

from a3t.envs.base import GameState
from a3t.errors import ConfigError, FailedPrecondition, InvalidArgument, NotFound
from a3t.settings import load_settings
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore

TASK = "pick_and_place_simple-Mug-None-Desk-1/trial_a"
OTHER = "look_at_obj_in_light-Book-None-DeskLamp-3/trial_c"


# --- settings ---------------------------------------------------------------------------------


def test_read_only_roots_come_through_every_layer_in_order(tmp_path):
    real, other, flag = (tmp_path / name for name in ("real", "other", "flag"))
    for d in (real, other, flag):
        d.mkdir()
    config = tmp_path / "env.yaml"
    config.write_text(f"env_read_only_roots: [alfworld={real}]\n")
    yaml_only = load_settings(EnvSettings, "env", ["--config", str(config)], environ={})
    assert yaml_only.read_only_roots("alfworld") == (real,)
    environ = {"A3T_ENV_ENV_READ_ONLY_ROOTS": f"alfworld={real},alfworld={other}"}
    from_env = load_settings(EnvSettings, "env", ["--config", str(config)], environ=environ)
    assert from_env.read_only_roots("alfworld") == (real, other)
    assert from_env.read_only_roots("webshop") == ()
    flags = ["--config", str(config), "--env-read-only-roots", f"webshop={flag}"]
    from_flag = load_settings(EnvSettings, "env", flags, environ=environ)
    assert from_flag.read_only_roots("alfworld") == ()
    assert from_flag.read_only_roots("webshop") == (flag,)
    assert from_flag.env_root("webshop") == Path("var/envs/webshop")  # still the one written to


def test_every_problem_of_the_roots_is_reported_at_once(tmp_path):
    own, real = tmp_path / "own", tmp_path / "real"
    (own / "json_2.1.1").mkdir(parents=True)
    real.mkdir()
    missing = tmp_path / "missing"
    entries = [
        "alfworld",
        f"textcraft={real}",
        f"alfworld={real}",
        f"alfworld={missing}",
        f"alfworld={own}",
        f"alfworld={own / 'json_2.1.1'}",
        f"alfworld={tmp_path}",
        f"alfworld={real}",
    ]
    with pytest.raises(ConfigError) as info:
        load_settings(
            EnvSettings,
            "env",
            ["--envs", "alfworld", "--env-data-roots", f"alfworld={own}"],
            environ={"A3T_ENV_ENV_READ_ONLY_ROOTS": ",".join(entries)},
        )
    apart = "give each of the env's roots a directory of its own"
    assert info.value.problems == [
        "env_read_only_roots: 'alfworld' is not ENV=VALUE",
        "env_read_only_roots names envs not served here: ['textcraft'] (envs: ['alfworld'])",
        f"env_read_only_roots: alfworld={missing} is not a directory",
        f"env_read_only_roots: alfworld={own} is, contains or lies inside the env's data root; "
        + apart,
        f"env_read_only_roots: alfworld={own / 'json_2.1.1'} is, contains or lies inside the "
        "env's data root; " + apart,
        f"env_read_only_roots: alfworld={tmp_path} is, contains or lies inside the env's data "
        "root; " + apart,
        f"env_read_only_roots: alfworld={real} is, contains or lies inside the read-only root "
        f"{real}; " + apart,
    ]


def test_no_read_only_roots_by_default():
    settings = EnvSettings()
    assert settings.problems() == []
    assert settings.read_only_roots("alfworld") == ()


# --- EnvCore over real directories ------------------------------------------------------------


class Runner:
    """Records what each open loads and with which root's engine."""

    def __init__(self):
        self.opened: list[tuple[str, Path]] = []

    async def open(self, session_id, env, task, root):
        self.opened.append((task.ref, root))
        return "put a mug in desk.", GameState("You are in a room.", ("look",), 0.0, False, False)

    async def step(self, session_id, action):
        return GameState("Nothing happens.", ("look",), 0.0, False, False)

    async def close(self, session_id):
        pass


def make_game(split_dir: Path, task: str = TASK) -> None:
    game = split_dir / task
    game.mkdir(parents=True)
    (game / "game.tw-pddl").write_text("{}")


@pytest.fixture
def roots(tmp_path):
    """own/json_2.1.1/{gen_a, dup} and real/json_2.1.1/{valid_unseen, dup}; an unrelated place
    outside both."""
    own, real, outside = tmp_path / "own", tmp_path / "real", tmp_path / "outside"
    make_game(own / "json_2.1.1" / "gen_a")
    make_game(own / "json_2.1.1" / "dup")
    make_game(real / "json_2.1.1" / "valid_unseen", TASK)
    make_game(real / "json_2.1.1" / "valid_unseen", OTHER)
    make_game(real / "json_2.1.1" / "dup")
    make_game(outside / "elsewhere")
    runner = Runner()
    settings = EnvSettings(
        envs=("alfworld",),
        env_data_roots=(f"alfworld={own}",),
        env_read_only_roots=(f"alfworld={real}",),
        workers=1,
    )
    assert settings.problems() == []
    return EnvCore(settings, runner), runner, own, real, outside


async def test_splits_of_both_roots_are_listed_and_opened_with_their_roots_engine(roots):
    core, runner, own, real, _ = roots
    assert [t.task_id for t in core.list_tasks("alfworld", "gen_a").tasks] == [TASK]
    page = core.list_tasks("alfworld", "valid_unseen")
    assert [t.task_id for t in page.tasks] == [OTHER, TASK]
    assert {t.split for t in page.tasks} == {"valid_unseen"}
    await core.create_session("alfworld", "gen_a", task_id=TASK)
    await core.create_session("alfworld", "valid_unseen", index=1)
    assert runner.opened == [
        (str(own / "json_2.1.1" / "gen_a" / TASK / "game.tw-pddl"), own),
        (str(real / "json_2.1.1" / "valid_unseen" / TASK / "game.tw-pddl"), real),
    ]


def test_a_split_in_two_roots_is_refused_naming_both(roots):
    core, _, own, real, _ = roots
    with pytest.raises(FailedPrecondition) as info:
        core.list_tasks("alfworld", "dup")
    assert str(info.value) == (
        f"split 'dup' of alfworld is in more than one data root: {own} (its data root) and "
        f"{real} (read-only); the server does not pick one: its operator must rename or remove "
        "all but one"
    )


def test_a_split_in_no_root_names_what_each_root_has(roots):
    core, _, own, real, _ = roots
    with pytest.raises(NotFound) as info:
        core.list_tasks("alfworld", "valid_seen")
    assert str(info.value) == (
        f"split 'valid_seen' not found under {own / 'json_2.1.1'}; available splits: "
        "['dup', 'gen_a']; and in a read-only root: split 'valid_seen' not found under "
        f"{real / 'json_2.1.1'}; available splits: ['dup', 'valid_unseen']"
    )


async def test_generation_never_writes_a_split_of_a_read_only_root(roots):
    core, _, _, real, _ = roots
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    for split in ("valid_unseen", "dup"):
        with pytest.raises(FailedPrecondition) as info:
            await core.generate_tasks("alfworld", split, level=1, seed=0, count=1)
        assert str(info.value) == (
            f"split '{split}' of alfworld is in the read-only root {real}; GenerateTasks writes "
            "only to the env's data root and never a split of a read-only one: pick another "
            "split name"
        )
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before


async def test_links_out_of_a_read_only_root_are_refused(roots):
    """A read-only root's split or task must resolve inside that root: a link into the env's own
    root, or anywhere else, is refused like one out of the data root."""
    core, runner, own, real, outside = roots
    splits = real / "json_2.1.1"
    (splits / "to_own").symlink_to(own / "json_2.1.1" / "gen_a", target_is_directory=True)
    (splits / "to_outside").symlink_to(outside / "elsewhere", target_is_directory=True)
    task_folder = splits / "mixed" / "pick_and_place_simple-Pen-None-Desk-2"
    task_folder.mkdir(parents=True)
    (task_folder / "trial_b").symlink_to(outside / "elsewhere" / TASK, target_is_directory=True)
    for split in ("to_own", "to_outside"):
        with pytest.raises(InvalidArgument) as info:
            core.list_tasks("alfworld", split)
        assert str(info.value) == (
            f"split '{split}' of alfworld leads outside the env's data root (a symbolic link); "
            "the server refuses it: ask its operator to replace the link by a copy"
        )
    with pytest.raises(InvalidArgument, match=r"^index '0' names a task whose data leads outside"):
        await core.create_session("alfworld", "mixed", index=0)
    assert runner.opened == []
