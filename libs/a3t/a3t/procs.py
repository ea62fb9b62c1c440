"""Starting a3t services as local processes on free loopback ports.

Used by `a3t run` (the embedded default) and by the end-to-end tests, so both start services the
same way: `python -m a3t_<name> --port P --metrics-port M ...`, wait until health says SERVING, and
stop with SIGTERM (the service's graceful path), SIGKILL only if it does not exit in time.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from a3t.rpc.client import wait_for_serving

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free now. Another process may take it before we bind: callers that
    cannot tolerate that bind port 0 in-process instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen
    port: int
    metrics_port: int
    log_path: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            await wait_for_serving(self.target, timeout=timeout)
        except TimeoutError as exc:
            code = self.process.poll()
            state = f"exited with code {code}" if code is not None else "still running"
            raise TimeoutError(
                f"{self.name} ({state}) did not become SERVING: {exc}\n"
                f"--- last lines of {self.log_path}:\n{self.log_tail()}"
            ) from exc

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", self.name, timeout)
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_service(
    name: str,
    args: Sequence[str] = (),
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    die_with_parent: bool = False,
    port: int = 0,
    metrics_port: int = 0,
) -> ServiceProcess:
    """Starts `python -m a3t_<name>` on free ports (or on `port` / `metrics_port`: a service
    restarted where its clients look for it); its output goes to `log_dir/<name>.log`.

    `die_with_parent` (Linux): the service gets SIGTERM when the calling thread's process dies,
    even by SIGKILL, so `a3t run` leaves no orphaned model servers behind. Call it from a thread
    that lives as long as the service should (the kernel watches the thread that forked).
    """
    port, metrics_port = port or free_port(), metrics_port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    cmd = [
        sys.executable,
        "-m",
        f"a3t_{name}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        *args,
    ]
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            preexec_fn=_term_with_parent if die_with_parent else None,
        )
    log.info("started %s (pid %d) on port %d, log %s", name, process.pid, port, log_path)
    return ServiceProcess(name, process, port, metrics_port, log_path)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _term_with_parent() -> None:
    """Runs in the child between fork and exec: ask for SIGTERM when the parent dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_TICKS = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and all its descendants, live
    or reaped, read from /proc (Linux). A process that has exited counts 0 here; its CPU moved
    into its parent's reaped-children fields, which are included. 0.0 where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            # Fields after the command name (which may contain spaces), from field 3 on.
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICKS  # utime stime cutime cstime
    for child in _children(pid):
        total += tree_cpu_seconds(child)
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                found.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return found
