"""Artifacts on shared storage (adapters, datasets): directories completed by a manifest.json.

Weights never travel over gRPC: a writer fills a directory, then writes `manifest.json` last
(atomically, by rename), and a reader refuses a directory without one. So a crash mid-write leaves a
directory every reader ignores, never a half-read adapter. The manifest lists every file with its
size and sha256 and `read_manifest` checks them, so a file cut short or changed later (a full disk
during a copy, a bad sync of the shared volume) is refused by name rather than loaded.

Paths come from clients (LoadAdapter's uri, a training run's dataset and output): with an
artifact root configured, `resolve_under` refuses any that leads outside it (`..`, an absolute
path elsewhere, a symlink out). OS errors while writing become `storage_error`s that name the
directory and what to do.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from a3t.errors import (
    A3tError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    quote,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# 2: the manifest lists its directory's files ("files": {relative path: {size, sha256}}).
FORMAT_VERSION = 2


def local_path(uri: str) -> Path:
    """A `file://` URI or a plain path -> Path. Other schemes are not supported yet."""
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri:
        raise FailedPrecondition(
            f"artifact URI {uri!r}: only local paths and file:// URIs are supported; mount the "
            "shared volume and pass its path"
        )
    return Path(uri)


def storage_error(exc: OSError, directory: Path, what: str) -> A3tError:
    """An OS error while writing `what` under `directory`, as the project's error: a full disk or
    quota is ResourceExhausted (free space, then resume), anything else (read-only, permissions)
    FailedPrecondition (make it writable, then resume). Both name the directory and the OS error."""
    if exc.errno is None:
        reason = str(exc)
    else:
        reason = f"{os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)})"
    message = f"cannot write {what} to {directory}: {reason}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceExhausted(f"{message}; free space there, then resume")
    return FailedPrecondition(f"{message}; make the directory writable, then resume")


@contextmanager
def writing(directory: Path, what: str) -> Iterator[None]:
    """Turns an OSError raised inside the block into `storage_error(exc, directory, what)`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, directory, what) from exc


def list_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Every regular file under `directory` but the manifest (and its temp file): relative path
    (with /) -> {"size": bytes, "sha256": hex}."""
    directory = Path(directory)
    found = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_file() and name not in (MANIFEST, f".{MANIFEST}.tmp"):
            found[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return found


def write_manifest(directory: Path, fields: dict[str, Any]) -> Path:
    """Writes `directory/manifest.json` atomically, listing every file already in the directory;
    call it after everything else is written. OS errors: `storage_error`."""
    directory = Path(directory)
    tmp = directory / f".{MANIFEST}.tmp"
    with writing(directory, MANIFEST):
        data = {**fields, "format_version": FORMAT_VERSION, "files": list_files(directory)}
        try:
            with open(tmp, "w") as out:
                json.dump(data, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)  # never leave a half manifest behind
            raise
        final = directory / MANIFEST
        os.replace(tmp, final)
    return final


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a completed artifact directory; NotFound / FailedPrecondition otherwise."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotFound(f"artifact directory {directory} does not exist")
    path = directory / MANIFEST
    if not path.is_file():
        raise FailedPrecondition(
            f"{directory} has no {MANIFEST}: the artifact is incomplete (its writer did not "
            "finish) or is not an a3t artifact"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FailedPrecondition(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FailedPrecondition(f"{path} must hold a JSON object")
    verify_files(directory, data)
    return data


def verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Checks each file the manifest lists against its size and sha256; FailedPrecondition
    naming the first file that is missing or differs. A format-1 manifest (written before files
    were listed) has nothing to check: it is read as before, with a warning."""
    version = manifest.get("format_version", 1)
    files = manifest.get("files")
    if version == 1 and files is None:
        log.warning("%s: format 1 manifest lists no files; its files are not verified", directory)
        return
    where = Path(directory) / MANIFEST
    if not isinstance(files, dict):
        raise FailedPrecondition(
            f"{where} has format_version {version} but no files map; write the artifact again"
        )
    for name, expected in files.items():
        path = Path(directory) / name
        if not isinstance(expected, dict) or not {"size", "sha256"} <= set(expected):
            raise FailedPrecondition(f"{where}: the entry of {name!r} needs size and sha256")
        if not path.is_file():
            raise FailedPrecondition(
                f"{path} is missing: {where} lists it; the artifact is incomplete, write it again"
            )
        size = path.stat().st_size
        if size != expected["size"]:
            raise FailedPrecondition(
                f"{path} has {size} bytes, {where} says {expected['size']}: the file is "
                "truncated or was changed; write the artifact again"
            )
        if file_sha256(path) != expected["sha256"]:
            raise FailedPrecondition(
                f"{path} does not match the sha256 in {where}: the file is corrupted or was "
                "changed; write the artifact again"
            )


def resolve_under(uri: str, root: Path | None, field: str) -> Path:
    """The local path of a client's `uri`; with a `root`, one that stays inside it.

    Refused with InvalidArgument naming `field`: a `..` component, and a path whose real location
    (symlinks followed, relative paths from the working directory) is outside `root`. The path
    need not exist yet (an output directory). Without a root any path is taken as it is."""
    path = local_path(uri)
    if root is None:
        return path
    if ".." in path.parts:
        raise InvalidArgument(
            f"{field} {quote(uri, 300)} contains '..'; give a path inside the artifact root {root}"
        )
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    if not real.is_relative_to(real_root):
        raise InvalidArgument(
            f"{field} {quote(uri, 300)} resolves to {real}, outside the artifact root {root}; "
            "give a path inside it (symlinks out of it are refused too)"
        )
    return real


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
