"""The store's pool: what is trained on, and stores made before a column existed."""

import sqlite3

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
