import json

import pytest

from a3t.artifacts import MANIFEST, file_sha256, local_path, read_manifest, write_manifest
from a3t.errors import FailedPrecondition, NotFound


def test_manifest_round_trip(tmp_path):
    write_manifest(tmp_path, {"base_model": "tiny", "round": 2})
    assert read_manifest(tmp_path) == {"format_version": 1, "base_model": "tiny", "round": 2}
    assert not list(tmp_path.glob(".*.tmp"))


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
