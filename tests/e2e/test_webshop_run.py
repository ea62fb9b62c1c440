"""`a3t run --env webshop` as a user runs it: every service a real process, SmolLM2 on the CPU,
generated WebShop goals, one round (slow tier: about 10 minutes on 2 cores)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def test_a3t_run_on_webshop_completes_a_round(tmp_path):
    workdir = tmp_path / "run"
    cmd = [
        *(sys.executable, "-m", "a3t_controller.cli", "--workdir", str(workdir), "run"),
        *("--env", "webshop", "--rounds", "1", "--train-count", "4", "--eval-count", "2"),
        *("--set", "explore_attempts=6", "--set", "epochs_first_round=1"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=2300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # The report names WebShop's score beside the success rate.
    assert "| eval success | eval score |" in out.stdout

    with sqlite3.connect(workdir / "a3t.sqlite") as db:
        state, config = db.execute("SELECT state, config_json FROM experiments").fetchone()
        stats = json.loads(db.execute("SELECT stats_json FROM rounds").fetchone()[0])
        rows = db.execute("SELECT phase, won, reward, json FROM trajectories").fetchall()
    assert state == "succeeded"
    config = json.loads(config)
    # The env's defaults reached the experiment (the profile set max_steps and K).
    assert config["env"] == "webshop" and config["stop_at_first_success"] is True
    assert config["explore_only_prefixes"] == ["click["]
    assert stats["attempt_total"] == 4 and stats["explore_solved"] >= 1
    for _phase, won, reward, text in rows:
        traj = json.loads(text)
        assert traj["task"]["env"] == "webshop" and 0.0 <= reward <= 1.0
        assert bool(won) == (reward == 1.0)
        steps = traj["steps"]
        # Every episode starts on the search page, where only the policy acts.
        assert steps[0]["source"] in ("policy", "grounded")
        for step in steps:
            if step["source"] in ("sampled", "forced"):  # exploration clicks, never searches
                assert step["action"].startswith("click[")
                assert not step["action"].startswith("click[Back")
    assert {p for p, *_ in rows} == {"attempt", "explore", "eval"}
