"""A full or read-only disk under the controller's dataset writer and the manifest writer: a
storage error naming the directory and the OS error, and nothing half-written left to be read.

ENOSPC without a mount: a temp file that is a symlink to /dev/full. With mount permission (root
with CAP_SYS_ADMIN, as here and in CI), also a real full tmpfs and a read-only one.
"""

import os

import pytest

from a3t.artifacts import MANIFEST, read_manifest, write_manifest
from a3t.compose import WeightedTrajectory, read_dataset, write_dataset
from a3t.errors import FailedPrecondition, ResourceExhausted
from a3t.trajectory import Task, Trajectory
from tests.mounts import remount_read_only, tmpfs

ITEMS = [
    WeightedTrajectory(1.0, Trajectory(Task("alfworld", "t1", instruction="put a mug"), "obs")),
]


def test_dataset_on_a_full_disk_via_dev_full(tmp_path):
    path = tmp_path / "round-0" / "dataset.jsonl"
    path.parent.mkdir()
    os.symlink("/dev/full", path.with_name(".dataset.jsonl.tmp"))
    with pytest.raises(ResourceExhausted) as caught:
        write_dataset(path, ITEMS)
    assert str(caught.value) == (
        f"cannot write the dataset dataset.jsonl to {path.parent}: No space left on device "
        "(ENOSPC); free space there, then resume"
    )
    assert os.listdir(path.parent) == []  # no dataset, no temp file


def test_dataset_and_manifest_on_a_full_tmpfs(tmp_path):
    with tmpfs(tmp_path / "full", full=True) as full:
        with pytest.raises(ResourceExhausted, match=rf"dataset\.jsonl to {full}: No space left"):
            write_dataset(full / "dataset.jsonl", ITEMS * 50)
        assert sorted(os.listdir(full)) == [".filler"]
        with pytest.raises(ResourceExhausted, match=rf"{MANIFEST} to {full}: No space left"):
            write_manifest(full, {"base_model": "tiny"})
        assert sorted(os.listdir(full)) == [".filler"]
        with pytest.raises(FailedPrecondition, match=r"has no manifest\.json"):
            read_manifest(full)


def test_dataset_on_a_read_only_tmpfs(tmp_path):
    with tmpfs(tmp_path / "ro") as ro:
        write_dataset(ro / "old.jsonl", ITEMS)
        remount_read_only(ro)
        with pytest.raises(FailedPrecondition) as caught:
            write_dataset(ro / "dataset.jsonl", ITEMS)
        assert str(caught.value) == (
            f"cannot write the dataset dataset.jsonl to {ro}: Read-only file system (EROFS); "
            "make the directory writable, then resume"
        )
        assert sorted(os.listdir(ro)) == ["old.jsonl"]
        assert len(read_dataset(ro / "old.jsonl")) == 1
