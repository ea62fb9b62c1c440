"""tree_cpu_seconds: a process tree's CPU, children included, read from /proc."""

import os
import subprocess
import sys
import time

from a3t.procs import tree_cpu_seconds

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n{tail}"


def test_counts_a_live_child_and_a_reaped_one():
    before = tree_cpu_seconds(os.getpid())
    # A child that burns 0.5 s of CPU and then waits on stdin (alive while we read). /proc counts
    # in clock ticks (0.01 s) and the sums are floats: compare with a tick of slack.
    child = subprocess.Popen(
        [sys.executable, "-c", BURN.format(s=0.5, tail="import sys; sys.stdin.read()")],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while tree_cpu_seconds(child.pid) < 0.45 and time.monotonic() < deadline:
            time.sleep(0.05)
        live = tree_cpu_seconds(os.getpid()) - before
        assert live >= 0.44
    finally:
        child.communicate(b"")
    # Reaped: its CPU moved into our children's fields and still counts.
    assert tree_cpu_seconds(os.getpid()) - before >= live - 0.02


def test_a_missing_process_counts_zero():
    assert tree_cpu_seconds(2**22 + 12345) == 0.0
