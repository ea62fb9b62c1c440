"""a3t.artifacts: manifests that list and verify their files, storage errors, artifact roots."""

import errno
import json
import os

import pytest

from a3t.artifacts import (
    MANIFEST,
    file_sha256,
    local_path,
    read_manifest,
    resolve_under,
    storage_error,
    write_manifest,
)
from a3t.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_manifest_round_trip(tmp_path):
    write_manifest(tmp_path, {"base_model": "tiny", "round": 2})
    assert read_manifest(tmp_path) == {
        "format_version": 2,
        "base_model": "tiny",
        "round": 2,
        "files": {},
    }
    assert not list(tmp_path.glob(".*.tmp"))


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"abc")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "config.json").write_bytes(b"")
    write_manifest(tmp_path, {"base_model": "tiny"})
    assert read_manifest(tmp_path)["files"] == {
        "sub/config.json": {"size": 0, "sha256": file_sha256(tmp_path / "sub" / "config.json")},
        "weights.bin": {"size": 3, "sha256": ABC_SHA256},
    }


def test_a_truncated_changed_or_missing_file_is_refused_by_name(tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"abcdef")
    write_manifest(tmp_path, {"base_model": "tiny"})
    weights.write_bytes(b"abc")  # cut short
    with pytest.raises(FailedPrecondition, match=r"weights\.bin has 3 bytes.*says 6.*truncated"):
        read_manifest(tmp_path)
    weights.write_bytes(b"abcdeF")  # same size, other bytes
    with pytest.raises(FailedPrecondition, match=r"weights\.bin does not match the sha256"):
        read_manifest(tmp_path)
    weights.unlink()
    with pytest.raises(FailedPrecondition, match=r"weights\.bin is missing"):
        read_manifest(tmp_path)


def test_a_format_1_manifest_without_files_is_still_read(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format_version": 1, "base_model": "x"}))
    assert read_manifest(tmp_path)["base_model"] == "x"
    (tmp_path / MANIFEST).write_text(json.dumps({"format_version": 2, "base_model": "x"}))
    with pytest.raises(FailedPrecondition, match="format_version 2 but no files map"):
        read_manifest(tmp_path)


def test_storage_error_names_the_directory_and_the_os_error(tmp_path):
    full = storage_error(OSError(errno.ENOSPC, "No space"), tmp_path, "the adapter")
    assert isinstance(full, ResourceExhausted)
    assert str(full) == (
        f"cannot write the adapter to {tmp_path}: No space left on device (ENOSPC); free space "
        "there, then resume"
    )
    read_only = storage_error(OSError(errno.EROFS, "ro"), tmp_path, "the adapter")
    assert type(read_only) is FailedPrecondition
    assert "Read-only file system (EROFS); make the directory writable" in str(read_only)


def test_manifest_write_on_a_full_disk_leaves_no_manifest(tmp_path):
    # The manifest's temp file is a symlink to /dev/full: every write fails with ENOSPC.
    os.symlink("/dev/full", tmp_path / f".{MANIFEST}.tmp")
    with pytest.raises(ResourceExhausted, match=rf"{MANIFEST} to {tmp_path}: No space left"):
        write_manifest(tmp_path, {"base_model": "tiny"})
    assert not (tmp_path / MANIFEST).exists()
    assert not (tmp_path / f".{MANIFEST}.tmp").exists()


def test_resolve_under_refuses_paths_outside_the_root(tmp_path):
    root = tmp_path / "artifacts"
    (root / "exp").mkdir(parents=True)
    inside = root / "exp" / "round-0"
    assert resolve_under(str(inside), root, "adapter.uri") == inside
    assert resolve_under(f"file://{inside}", root, "adapter.uri") == inside
    assert resolve_under("/etc/passwd", None, "adapter.uri") == local_path("/etc/passwd")
    with pytest.raises(InvalidArgument, match=r"^adapter\.uri '.*/exp/\.\./\.\./x' contains"):
        resolve_under(f"{root}/exp/../../x", root, "adapter.uri")
    with pytest.raises(InvalidArgument, match=r"^dataset_uri '/etc/passwd' resolves to /etc/pass"):
        resolve_under("/etc/passwd", root, "dataset_uri")
    os.symlink(tmp_path, root / "exp" / "escape")
    with pytest.raises(InvalidArgument, match=r"output_uri .* outside the artifact root"):
        resolve_under(str(root / "exp" / "escape" / "out"), root, "output_uri")


def test_directory_without_manifest_is_refused(tmp_path):
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    with pytest.raises(FailedPrecondition, match=r"no manifest\.json"):
        read_manifest(tmp_path)
    with pytest.raises(NotFound, match="does not exist"):
        read_manifest(tmp_path / "missing")
    (tmp_path / MANIFEST).write_text("{oops")
    with pytest.raises(FailedPrecondition, match="not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps([1]))
    with pytest.raises(FailedPrecondition, match="JSON object"):
        read_manifest(tmp_path)


def test_local_path_and_hash(tmp_path):
    assert local_path("file:///a/b") == local_path("/a/b")
    with pytest.raises(FailedPrecondition, match="s3://x"):
        local_path("s3://x")
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
