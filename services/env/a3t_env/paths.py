"""Keeps every client-given name that becomes a path inside the env's data root it is served from.

An env has one data root (written to) and may have read-only roots (a3t_env.config); every check
here takes the one root a split is served from, so a split of a read-only root must resolve
inside that root, not merely inside one of the env's roots.

A split names a directory (ALFWorld: <root>/json_2.1.1/<split>, WebShop: <root>/<split>) and an
ALFWorld task id names <task>/<trial> folders under it. Split names are already plain names
(a3t.envs.base.check_split_name refuses '/', '..' and absolute paths); here task ids get the
same treatment, and symbolic links are followed: a split directory, or a task's data found
through one, that resolves outside the root is refused rather than read, played or written to.

The client is told which field was refused, not where the link leads (server paths stay in the
server's log).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath, PureWindowsPath

from a3t.errors import InvalidArgument, quote

log = logging.getLogger(__name__)


def check_task_id(task_id: str) -> None:
    """InvalidArgument when a task id could step out of its split: absolute, or with a '..'."""
    parts = PurePosixPath(task_id.replace("\\", "/")).parts
    if task_id.startswith(("/", "\\")) or PureWindowsPath(task_id).drive or ".." in parts:
        raise InvalidArgument(
            f"task_id {quote(task_id)} must be a task id from ListTasks (a name relative to its "
            "split), not an absolute path or one with '..'"
        )


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def check_split_dirs(env: str, root: Path, split: str) -> None:
    """InvalidArgument when a directory named `split` directly under the env's data root or one
    level below it (the layouts of the engines) is a link leading outside the root."""
    if not root.is_dir():
        return  # the engine says the split is not found
    candidates = [root / split] + [d / split for d in root.iterdir() if d.is_dir()]
    for path in candidates:
        if (path.exists() or path.is_symlink()) and not _inside(root, path):
            log.warning(
                "refused split %r of %s: %s resolves to %s, outside the data root %s",
                split,
                env,
                path,
                path.resolve(),
                root.resolve(),
            )
            raise InvalidArgument(
                f"split {quote(split)} of {env} leads outside the env's data root (a symbolic "
                "link); the server refuses it: ask its operator to replace the link by a copy"
            )


def check_task_ref(env: str, root: Path, ref: str, field: str, value: str) -> None:
    """InvalidArgument naming `field` (task_id or index) when a task's ref is a path under the
    env's data root that resolves outside it (a task folder linked elsewhere). Refs that are not
    paths under the root (WebShop's goal indices) pass."""
    path = Path(ref)
    if not path.is_relative_to(root) or _inside(root, path):
        return
    log.warning("refused task %s of %s: %s resolves to %s", value, env, path, path.resolve())
    raise InvalidArgument(
        f"{field} {quote(value)} names a task whose data leads outside the {env} data root (a "
        "symbolic link); the server refuses it: ask its operator to replace the link by a copy"
    )
