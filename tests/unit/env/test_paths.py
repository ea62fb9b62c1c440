"""Client-given names stay inside the env's data root: '..', absolute paths and symbolic links that
lead outside are refused with InvalidArgument naming the field, for split names (listing and
generation) and task ids, in EnvCore over real directories."""

import pytest

from a3t.envs.base import GameState
from a3t.errors import InvalidArgument
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore

TASK = "pick_and_place_simple-Mug-None-Desk-1/trial_a"


class Runner:
    def __init__(self):
        self.loaded = []

    async def open(self, session_id, env, task, root):
        self.loaded.append(task.ref)
        return "put a mug in desk.", GameState("You are in a room.", ("look",), 0.0, False, False)


def make_game(split_dir, task=TASK):
    game = split_dir / task
    game.mkdir(parents=True)
    (game / "game.tw-pddl").write_text("{}")


@pytest.fixture
def layout(tmp_path):
    """<root>/alfworld/json_2.1.1/train (real), .../linked -> a split outside the root, and a
    task folder of .../mixed linked to a task folder outside the root."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    splits = root / "alfworld" / "json_2.1.1"
    make_game(splits / "train")
    make_game(outside / "elsewhere")
    (splits / "linked").symlink_to(outside / "elsewhere", target_is_directory=True)
    (splits / "mixed" / "pick_and_place_simple-Pen-None-Desk-2").mkdir(parents=True)
    (splits / "mixed" / "pick_and_place_simple-Pen-None-Desk-2" / "trial_b").symlink_to(
        outside / "elsewhere" / TASK, target_is_directory=True
    )
    runner = Runner()
    return EnvCore(EnvSettings(data_root=root, workers=1), runner), runner, splits


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ("../../../outside/elsewhere", r"split '\.\./\.\./\.\./outside/elsewhere' must be"),
        ("/etc", r"split '/etc' must be 1-64 letters"),
        ("linked", r"split 'linked' of alfworld leads outside the env's data root"),
    ],
)
async def test_splits_outside_the_root_are_refused(layout, split, message):
    core, runner, _ = layout
    with pytest.raises(InvalidArgument, match=message):
        core.list_tasks("alfworld", split)
    with pytest.raises(InvalidArgument, match=message):
        await core.create_session("alfworld", split, index=0)
    assert runner.loaded == []


async def test_generation_never_writes_through_a_link(layout):
    core, _, splits = layout
    with pytest.raises(InvalidArgument, match=r"split 'linked' of alfworld leads outside"):
        await core.generate_tasks("alfworld", "linked", level=1, seed=0, count=1)
    assert sorted(p.name for p in (splits / "linked").iterdir()) == [TASK.split("/")[0]]


@pytest.mark.parametrize(
    "task_id", [f"../train/{TASK}", "/etc/passwd", "..\\train", "C:\\games\\x", "a/../../b"]
)
async def test_task_ids_that_are_paths_are_refused(layout, task_id):
    core, runner, _ = layout
    with pytest.raises(InvalidArgument, match=r"task_id .* must be a task id from ListTasks"):
        await core.create_session("alfworld", "train", task_id=task_id)
    assert runner.loaded == []


async def test_a_task_linked_outside_the_root_is_refused_naming_the_field(layout):
    core, runner, _ = layout
    linked = "pick_and_place_simple-Pen-None-Desk-2/trial_b"
    # Listing shows it (the engine found it under the split) but it is never loaded.
    assert [t.task_id for t in core.list_tasks("alfworld", "mixed").tasks] == [linked]
    with pytest.raises(InvalidArgument, match=r"task_id '.*trial_b' names a task whose data"):
        await core.create_session("alfworld", "mixed", task_id=linked)
    with pytest.raises(InvalidArgument, match=r"index '0' names a task whose data leads outside"):
        await core.create_session("alfworld", "mixed", index=0)
    start = await core.create_session("alfworld", "train", task_id=TASK)
    assert start.task.task_id == TASK and len(runner.loaded) == 1
