"""Real filesystem faults for storage tests: a full or read-only tmpfs mounted for one test.

We run as root, so chmod cannot make a directory unwritable for us and only a real mount gives
ENOSPC or EROFS on an ordinary path. Where mounting is refused (a container without
CAP_SYS_ADMIN) the test is skipped with that reason; each such test has a mount-free sibling
(a path through /dev/full, or a file where a directory must be) covering the same code path.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False)


@contextmanager
def tmpfs(directory: Path, size: str = "64k", *, full: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` at `directory` (created), unmounted after; `full=True` fills it first
    so that the next write fails with ENOSPC. Skips the test when mount is refused."""
    directory.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory))
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here ({done.stderr.strip()}); needs CAP_SYS_ADMIN")
    try:
        if full:
            fd = os.open(directory / ".filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:  # ENOSPC: full
                pass
            finally:
                os.close(fd)
        yield directory
    finally:
        _run("umount", "-l", str(directory))


def remount_read_only(directory: Path) -> None:
    """Makes a tmpfs from `tmpfs` read-only (EROFS on every write)."""
    done = _run("mount", "-o", "remount,ro", str(directory))
    if done.returncode != 0:
        pytest.skip(f"remount read-only refused here ({done.stderr.strip()})")
