"""`a3t run` as a user runs it (a real process starting real service processes), on the tiny
model: SIGTERM stops its services and leaves the experiment resumable, kill -9 leaves no orphaned
service behind, and running the same command again finishes the round."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; its parent has not reaped it yet


def phase(db: Path) -> tuple[str, str] | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT state, current_phase FROM experiments").fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return None
    return row


def start(workdir: Path, model: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "a3t_controller.cli",
        "--workdir",
        str(workdir),
        "run",
        "--base-model",
        str(model),
        "--rounds",
        "1",
        "--train-count",
        "3",
        "--eval-count",
        "1",
        "--trainer-threads",
        "1",
        "--policy-max-new-tokens",
        "12",
        "--actre-max-new-tokens",
        "8",
        "--set",
        "max_steps=10",
        "--set",
        "explore_attempts=4",
        "--set",
        "epochs_first_round=1",
        "--set",
        "lora_rank=4",
    ]
    log = open(workdir.parent / f"{workdir.name}.out", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def wait_running(proc: subprocess.Popen, db: Path, timeout: float = 240.0) -> list[int]:
    """Waits until the experiment runs and all four services are up; returns their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"a3t run exited early with {proc.returncode}"
        row = phase(db)
        kids = children(proc.pid)
        if row and row[0] == "running" and len(kids) == 4:
            return kids
        time.sleep(0.5)
    raise AssertionError(f"a3t run did not start its experiment in {timeout}s: {phase(db)}")


def wait_gone(pids: list[int], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if alive(p)], "services outlived a3t run"


def test_sigterm_and_kill_leave_no_services_and_the_run_resumes(tmp_path, tiny_model_dir):
    workdir = tmp_path / "run"
    workdir.mkdir()
    db = workdir / "a3t.sqlite"

    proc = start(workdir, tiny_model_dir)
    services = wait_running(proc, db)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == 130
    wait_gone(services)
    assert phase(db)[0] == "cancelled"

    proc = start(workdir, tiny_model_dir)
    services = wait_running(proc, db)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    wait_gone(services)  # the kernel told them (PR_SET_PDEATHSIG): no orphans

    proc = start(workdir, tiny_model_dir)
    assert proc.wait(540) == 0, (workdir.parent / "run.out").read_text()[-3000:]
    assert phase(db) == ("succeeded", "done")
    with sqlite3.connect(db) as conn:
        keys = conn.execute(
            "SELECT round, phase, task_id, attempt, COUNT(*) FROM trajectories "
            "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1"
        ).fetchall()
        evals = conn.execute("SELECT round FROM evaluations ORDER BY round").fetchall()
    assert keys == []  # nothing collected twice across the three starts
    assert evals == [(-1,), (0,)]
    assert "| 0 |" in (workdir.parent / "run.out").read_text()  # the report was printed
