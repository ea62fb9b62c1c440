"""The store's pool: what is trained on, stores made before a column existed, round stats and
their JSON column, and damaged stores refused on open."""

import json
import random
import sqlite3
from dataclasses import replace

import pytest

from a3t.compose import WeightedTrajectory
from a3t.errors import FailedPrecondition
from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.store import CriticAgreement, EvaluationRow, RoundStats, Store

TASK = Task(env="alfworld", task_id="t0", split="train", task_type="pick_and_place_simple")


def _stored(store: Store) -> tuple[str, Trajectory]:
    exp = store.create_experiment("s", "req", {}).experiment_id
    store.start_round(exp, 0, "", 1.0)
    steps = tuple(Step(action=f"go to shelf {i}", observation="ok") for i in range(6))
    traj = Trajectory(task=TASK, initial_observation="room", steps=steps)
    return exp, replace(traj, trajectory_id=store.add_trajectory(exp, 0, "attempt", 0, traj))


def test_pool_gives_each_trajectory_cut_to_its_train_steps(tmp_path):
    store = Store(tmp_path / "a3t.sqlite")
    exp, stored = _stored(store)
    cut = replace(stored, steps=stored.steps[:2])  # a failure cut to its task's longest success
    assert store.add_to_pool(exp, 0, [WeightedTrajectory(-0.5, cut)]) == 1
    [item] = store.pool(exp)
    weight, traj = item.weight, item.trajectory
    assert weight == -0.5 and [s.action for s in traj.steps] == ["go to shelf 0", "go to shelf 1"]
    assert len(store.trajectories(exp, 0, "attempt")[0].trajectory.steps) == 6  # stored whole


def test_a_store_from_before_train_steps_gets_the_column_and_keeps_its_pool(tmp_path):
    path = tmp_path / "a3t.sqlite"
    store = Store(path)
    exp, stored = _stored(store)
    store.add_to_pool(exp, 0, [WeightedTrajectory(1.0, stored)])
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE pool DROP COLUMN train_steps")  # the schema of an older store
    db.commit()
    db.close()
    store = Store(path)  # adds the column back, default 0 = every step
    [item] = store.pool(exp)
    weight, traj = item.weight, item.trajectory
    assert weight == 1.0 and len(traj.steps) == 6


def test_a_store_from_before_admissible_shares_opens_and_reads_its_evaluations(tmp_path):
    path = tmp_path / "a3t.sqlite"
    with sqlite3.connect(path) as db:  # the evaluations table of an older store
        db.executescript(
            """
            CREATE TABLE evaluations (
                experiment_id TEXT NOT NULL, round INTEGER NOT NULL, adapter TEXT NOT NULL,
                n_tasks INTEGER NOT NULL, success_rate REAL NOT NULL,
                by_type_json TEXT NOT NULL, cumulative_success_rate REAL NOT NULL,
                PRIMARY KEY (experiment_id, round));
            INSERT INTO evaluations VALUES ('e', -1, '', 8, 0.25, '{"a": 0.25}', 0.25);
            """
        )
    store = Store(path)  # adds the columns (NULL: not measured) and extra_evaluations
    assert store.evaluation("e", -1) == EvaluationRow("e", -1, "", 8, 0.25, {"a": 0.25}, 0.25)
    store.record_evaluation(
        "e", 0, "x", 8, 0.5, {}, 0.5, admissible_share=0.75, ungrounded_success_rate=0.125
    )
    assert store.evaluation("e", 0) == EvaluationRow(
        "e", 0, "x", 8, 0.5, {}, 0.5, admissible_share=0.75, ungrounded_success_rate=0.125
    )
    assert store.extra_evaluations("e") == []


def test_round_stats_read_the_stored_json_and_write_it_back_key_for_key():
    stored = {
        "attempt_total": 6,
        "attempt_solved": 0,
        "attempt_rollouts_retried": 2,
        "attempt_groups_dropped": 0,
        "wall_s_attempt": 1.5,
        "cpu_s_attempt": 1.25,
        "explore_probability": 1.0,
        "selector": "hybrid",
        "kept_env": 3,
        "kept_critic": 4,
        "critic_precision": None,
        "critic_recall": 0.5,
        "critic_auc": None,
        "train_level": 2,
        "train_split": "gen_l2_s0_n4",
        "train_examples": 9,
        "train_loss": 0.7,
        "train_steps": 12.0,
    }
    stats = RoundStats.from_json_dict(stored)
    assert stats == RoundStats(
        attempt_total=6,
        attempt_solved=0,
        explore_probability=1.0,
        selector="hybrid",
        kept={"env": 3, "critic": 4},
        critic=CriticAgreement(precision=None, recall=0.5, auc=None),
        train_level=2,
        train_split="gen_l2_s0_n4",
        train_examples=9,
        train_metrics={"loss": 0.7, "steps": 12.0},
        wall_s={"attempt": 1.5},
        cpu_s={"attempt": 1.25},
        rollouts_retried={"attempt": 2},
        groups_dropped={"attempt": 0},
    )
    assert stats.to_json_dict() == stored
    assert RoundStats().to_json_dict() == {}


def test_a_stats_key_this_version_does_not_know_stays_in_the_store(tmp_path):
    store = Store(tmp_path / "a3t.sqlite")
    exp, _ = _stored(store)
    with sqlite3.connect(store.path) as db:  # a store written by another version
        db.execute("UPDATE rounds SET stats_json = ?", (json.dumps({"attempt_total": 1, "x": 5}),))
    store.set_round_phase(exp, 0, "select", RoundStats(explore_won=2))
    assert store.round(exp, 0).stats == RoundStats(attempt_total=1, explore_won=2)
    with sqlite3.connect(store.path) as db:
        raw = json.loads(db.execute("SELECT stats_json FROM rounds").fetchone()[0])
    assert raw == {"attempt_total": 1, "x": 5, "explore_won": 2}


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
