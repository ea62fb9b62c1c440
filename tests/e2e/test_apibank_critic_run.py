"""`a3t run --env apibank` with the critic selector, as a user runs it: every service a real
process (env, policy, trainer, critic), SmolLM2 on the CPU, the real API-Bank level-1 items from
../shared/data/api-bank, one round (slow tier: about 3 minutes on 2 cores)."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
DATA = REPO_ROOT.parent / "shared" / "data" / "api-bank"


def test_a3t_run_on_apibank_with_the_critic_completes_a_round(tmp_path):
    assert (DATA / "test-data" / "level-1-api.json").is_file(), f"API-Bank data missing: {DATA}"
    workdir = tmp_path / "run"
    cmd = [
        *(sys.executable, "-m", "a3t_controller.cli", "--workdir", str(workdir), "run"),
        *("--env", "apibank", "--rounds", "1", "--data-root", str(DATA)),
        *("--train-split", "level-1-train", "--eval-split", "level-1-test"),
        *("--set", "selector=critic", "--critic-scoring", "probability"),
        *("--set", "max_train_tasks=3", "--set", "max_eval_tasks=2"),
        *("--set", "explore_attempts=2", "--set", "critic_threshold=0"),
        *("--set", "epochs_first_round=1"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=2300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    with sqlite3.connect(workdir / "a3t.sqlite") as db:
        state, config = db.execute("SELECT state, config_json FROM experiments").fetchone()
        stats = json.loads(db.execute("SELECT stats_json FROM rounds").fetchone()[0])
        phases = {p for (p,) in db.execute("SELECT DISTINCT phase FROM trajectories")}
        tasks = db.execute("SELECT json FROM trajectories").fetchall()
        selections = db.execute("SELECT selector, kept, score FROM selections").fetchall()
    assert state == "succeeded"
    config = json.loads(config)
    # API-Bank's defaults reached the experiment: temperature sampling, no ActRe, critic SFT.
    assert config["env"] == "apibank" and config["use_actre"] is False
    assert config["sft_only"] is True and config["max_steps"] == 3
    assert stats["attempt_total"] == 3 and stats["selector"] == "critic"
    assert "critic_auc" in stats
    for (text,) in tasks:
        assert json.loads(text)["task"]["env"] == "apibank"
    # The critic scored every explored trajectory (probability scoring always parses), 0 to
    # 10, and kept at most the top half (at most 2 per task).
    assert selections and all(s == "critic" for s, _, _ in selections)
    assert all(score is not None and 0 <= score <= 10 for _, _, score in selections)
    kept = sum(k for _, k, _ in selections)
    assert 1 <= kept <= math.ceil(len(selections) / 2) and kept == stats["kept_critic"]
    assert {"attempt", "explore", "eval"} <= phases
