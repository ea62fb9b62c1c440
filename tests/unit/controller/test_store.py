"""The store's pool: what is trained on, stores made before a column existed, and damaged stores
refused on open."""

import random
import sqlite3

import pytest

from a3t.errors import FailedPrecondition
from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.store import Store

TASK = Task(env="alfworld", task_id="t0", split="train", task_type="pick_and_place_simple")


def _stored(store: Store) -> tuple[str, str]:
    exp = store.create_experiment("s", "req", {}).experiment_id
    store.start_round(exp, 0, "", 1.0)
    steps = tuple(Step(action=f"go to shelf {i}", observation="ok") for i in range(6))
    traj = Trajectory(task=TASK, initial_observation="room", steps=steps)
    return exp, store.add_trajectory(exp, 0, "attempt", 0, traj)


def test_pool_gives_each_trajectory_cut_to_its_train_steps(tmp_path):
    store = Store(tmp_path / "a3t.sqlite")
    exp, tid = _stored(store)
    assert store.add_to_pool(exp, 0, [(tid, -0.5, 2)]) == 1
    [(weight, traj)] = store.pool(exp)
    assert weight == -0.5 and [s.action for s in traj.steps] == ["go to shelf 0", "go to shelf 1"]
    assert len(store.trajectories(exp, 0, "attempt")[0].trajectory.steps) == 6  # stored whole


def test_a_store_from_before_train_steps_gets_the_column_and_keeps_its_pool(tmp_path):
    path = tmp_path / "a3t.sqlite"
    store = Store(path)
    exp, tid = _stored(store)
    store.add_to_pool(exp, 0, [(tid, 1.0, 0)])
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE pool DROP COLUMN train_steps")  # the schema of an older store
    db.commit()
    db.close()
    store = Store(path)  # adds the column back, default 0 = every step
    [(weight, traj)] = store.pool(exp)
    assert weight == 1.0 and len(traj.steps) == 6


def _real_store(path) -> int:
    """A store with enough trajectories to span many pages; returns its size in bytes."""
    store = Store(path)
    exp = store.create_experiment("s", "req", {}).experiment_id
    store.start_round(exp, 0, "", 1.0)
    for attempt in range(40):
        steps = tuple(Step(action=f"go to shelf {i}", observation="x" * 200) for i in range(8))
        store.add_trajectory(exp, 0, "attempt", attempt, Trajectory(TASK, "room", steps))
    store.close()  # checkpoints the WAL into the file
    return path.stat().st_size


def test_a_truncated_store_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "a3t.sqlite"
    size = _real_store(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(FailedPrecondition) as caught:
        Store(path)
    message = str(caught.value)
    assert message.startswith(f"trajectory store {path} is damaged or not an SQLite database (")
    assert "it was not opened. Restore it from a backup, or move it aside" in message
    assert path.stat().st_size == size // 2  # not written to


def test_a_file_of_random_bytes_is_refused_as_not_a_database(tmp_path):
    path = tmp_path / "a3t.sqlite"
    path.write_bytes(random.Random(0).randbytes(8192))
    with pytest.raises(
        FailedPrecondition,
        match=r"a3t\.sqlite is damaged or not an SQLite .*file is not a database",
    ):
        Store(path)
    assert not (tmp_path / "a3t.sqlite-wal").exists()


def test_an_intact_store_opens_after_the_check(tmp_path):
    path = tmp_path / "a3t.sqlite"
    _real_store(path)
    store = Store(path)
    assert store.count("trajectories", store.experiment("s").experiment_id) == 40
