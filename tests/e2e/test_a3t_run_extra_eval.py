"""`a3t run` with a curriculum and real data beside the generated games (a real process starting
real service processes, the tiny model): every round evaluates the held-out games of every
curriculum level and a stratified sample of a split the env serves read-only
(`--eval-data-root`), each recorded as an extra evaluation and never trained on.

The "real" data root is made here with the generator (no ../shared/data)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from a3t.envs.alfworld.gen.generate import generate_games

pytestmark = pytest.mark.timeout(600)


def test_every_round_is_evaluated_on_every_level_and_on_the_read_only_split(
    tmp_path, tiny_model_dir
):
    real = tmp_path / "real"
    generate_games(real, "valid_unseen", level=5, seed=21, count=4)  # 2 of each task type
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    workdir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "a3t_controller.cli",
        *("--workdir", str(workdir), "run", "--base-model", str(tiny_model_dir)),
        *("--rounds", "1", "--train-count", "2", "--eval-count", "1"),
        *("--trainer-threads", "1", "--policy-max-new-tokens", "12"),
        *("--actre-max-new-tokens", "8", "--eval-data-root", str(real)),
        *("--set", "curriculum_levels=[1, 5]", "--set", "extra_eval_splits=[valid_unseen]"),
        *("--set", "max_extra_eval_tasks=2", "--set", "max_steps=6"),
        *("--set", "explore_attempts=8", "--set", "epochs_first_round=1"),
        *("--set", "lora_rank=4"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with sqlite3.connect(workdir / "a3t.sqlite") as db:
        config = json.loads(db.execute("SELECT config_json FROM experiments").fetchone()[0])
        extra = db.execute(
            "SELECT round, split, n_tasks, grounded FROM extra_evaluations ORDER BY round, split"
        ).fetchall()
        unseen_types = db.execute(
            "SELECT task_type, COUNT(*) FROM trajectories WHERE split = 'valid_unseen' AND "
            "round = 0 GROUP BY task_type"
        ).fetchall()
        pooled = db.execute(
            "SELECT DISTINCT t.split FROM pool p JOIN trajectories t USING (trajectory_id)"
        ).fetchall()
    assert config["eval_split"] == "gen_l1_s1000_n1"
    assert config["extra_eval_splits"] == ["gen_l5_s1000_n1", "valid_unseen"]
    # The base model (round -1) and round 0's adapter, on level 5's held-out game and on a
    # sample of 2 of the read-only split's 4 games, one of each task type.
    assert extra == [
        (r, split, n, 1)
        for r in (-1, 0)
        for split, n in (("gen_l5_s1000_n1", 1), ("valid_unseen", 2))
    ]
    assert sorted(n for _, n in unseen_types) == [1, 1]
    # Only the curriculum's level-1 training games (curriculum_train_count 16, seed 0).
    assert pooled in ([], [("gen_l1_s0_n16",)])
    # The read-only root was never written to.
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before
    assert "valid_unseen" in done.stdout  # the report lists the extra evaluations
