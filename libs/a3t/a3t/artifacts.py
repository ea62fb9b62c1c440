"""Artifacts on shared storage (adapters, datasets): directories completed by a manifest.json.

Weights never travel over gRPC: a writer fills a directory, then writes `manifest.json` last
(atomically, by rename), and a reader refuses a directory without one. So a crash mid-write leaves a
directory every reader ignores, never a half-read adapter.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from a3t.errors import FailedPrecondition, NotFound

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


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


def write_manifest(directory: Path, fields: dict[str, Any]) -> Path:
    """Writes `directory/manifest.json` atomically; call it after everything else is written."""
    directory = Path(directory)
    data = {"format_version": FORMAT_VERSION, **fields}
    tmp = directory / f".{MANIFEST}.tmp"
    with open(tmp, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
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
    return data


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
