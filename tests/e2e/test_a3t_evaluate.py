"""`a3t evaluate` as a user runs it: a real process that starts the env and the policy (the tiny
model) as real service processes, plays the base model ungrounded on generated games of a stored
experiment, records the evaluation apart from the rounds and stops its services."""

from __future__ import annotations

import subprocess
import sys

import pytest

from a3t.envs import env_spec
from a3t.trajectory import StepSource
from a3t_controller.config import ExperimentConfig
from a3t_controller.store import Store

pytestmark = pytest.mark.timeout(300)


def test_evaluate_plays_a_stored_experiments_base_model_on_real_services(tmp_path, tiny_model_dir):
    workdir = tmp_path / "run"
    # Generated games where `a3t run` writes them: <workdir>/envs/<env>.
    games = env_spec("alfworld").environment(workdir / "envs" / "alfworld")
    assert games.generate("gen_l1_s1000_n3", 1, 1000, 3, ()) == 3
    store = Store(workdir / "a3t.sqlite")
    config = ExperimentConfig(
        name="e",
        train_split="gen_l1_s0_n3",
        eval_split="gen_l1_s1000_n3",
        base_model=str(tiny_model_dir),
        max_steps=3,
        concurrency=2,
    )
    exp = store.create_experiment("e", "req-e", config.to_dict())
    store.close()
    cmd = [
        *(sys.executable, "-m", "a3t_controller.cli", "--workdir", str(workdir), "evaluate", "e"),
        *("--round", "base", "--no-ground-actions", "--count", "2"),
        *("--env-workers", "1", "--policy-max-new-tokens", "8", "--start-timeout", "240"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].startswith(
        "e: the base model on gen_l1_s1000_n3, grounding off: 2 tasks, success "
    )
    store = Store(workdir / "a3t.sqlite")
    [row] = store.extra_evaluations(exp.experiment_id)
    assert (row.round, row.adapter, row.split, row.grounded, row.sample, row.n_tasks) == (
        -1,
        "base",
        "gen_l1_s1000_n3",
        False,
        2,
        2,
    )
    played = store.trajectories(exp.experiment_id, -1, "evaluate:gen_l1_s1000_n3:2:ungrounded")
    assert len(played) == 2 and row.success_rate == sum(t.won for t in played) / 2
    steps = [s for t in played for s in t.trajectory.steps]
    assert steps and {s.source for s in steps} == {StepSource.POLICY}  # nothing grounded
    assert row.admissible_share == sum(s.admissible for s in steps) / len(steps)
    # The experiment itself is untouched: no round, no evaluation of its own.
    assert store.rounds(exp.experiment_id) == [] and store.evaluation(exp.experiment_id, -1) is None
    assert store.experiment("e").state == "pending"
    store.close()
