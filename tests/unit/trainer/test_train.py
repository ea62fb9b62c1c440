"""The recipe on the tiny model: output layout and manifest, cancel + resume, epoch averaging."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from a3t.artifacts import file_sha256, read_manifest
from a3t.compose import write_dataset
from a3t.errors import FailedPrecondition, ResourceExhausted
from a3t.inference.base import read_adapter_manifest
from a3t_trainer.config import TrainerSettings
from a3t_trainer.toy import synthetic_items
from a3t_trainer.train import Cancelled, TrainSpec, train
from tests.mounts import tmpfs

SETTINGS = TrainerSettings(device="cpu", tokens_per_step=400)


@pytest.fixture
def spec(tiny_model, tmp_path) -> TrainSpec:
    dataset = write_dataset(tmp_path / "data.jsonl", synthetic_items(8, seed=3, max_steps=6))
    return TrainSpec(
        base_model=str(tiny_model),
        dataset_uri=str(dataset),
        output_uri=str(tmp_path / "out" / "adapter"),
        adapter_name="toy-round-0",
        adapter_version=1,
        init_adapter_uri="",
        epochs=3,
        learning_rate=5e-3,
        lora_rank=8,
        lora_alpha=16,
        lora_target_modules=("q_proj", "v_proj"),
        quantize_4bit=False,
        include_observation_tokens=False,
        max_seq_tokens=256,
        negative_prob_floor=1e-3,
        average_last_epochs=0,
        seed=7,
        round=0,
    )


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "adapter_model.safetensors"))


def test_output_is_an_adapter_with_its_manifest(spec, tmp_path):
    progress = []
    result = train(spec, SETTINGS, tmp_path / "work", run_id="r1", on_progress=progress.append)
    out = Path(spec.output_uri)
    assert result.adapter_dir == out
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "manifest.json",
    ]
    assert not list(out.parent.glob(".*partial*"))
    manifest = read_manifest(out)
    assert read_adapter_manifest(str(out)).base_model == spec.base_model
    assert manifest["version"] == 1 and manifest["round"] == 0 and manifest["epochs"] == 3
    assert manifest["data_hash"] == "sha256:" + file_sha256(Path(spec.dataset_uri))
    assert manifest["lora"] == {"r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"]}
    metrics = manifest["metrics"]
    assert metrics["examples"] == 8 and len(metrics["epoch_history"]) == 3
    assert metrics["loss"] == pytest.approx(metrics["loss_positive"] + metrics["loss_negative"])
    assert metrics["steps"] == progress[-1].step == progress[-1].total_steps == len(progress)
    assert [p.epoch for p in progress] == sorted(p.epoch for p in progress)
    assert progress[-1].eta_seconds == 0 and all(p.tokens_per_second > 0 for p in progress)
    assert sorted(p.name for p in (tmp_path / "work" / "checkpoints").iterdir()) == [
        "epoch-0000",
        "epoch-0001",
        "epoch-0002",
    ]
    # Calling it again for the same run finds the finished output instead of training again.
    again = train(spec, SETTINGS, tmp_path / "work", run_id="r1", on_progress=progress.append)
    assert again.manifest == manifest and metrics["steps"] == len(progress)


def test_cancel_then_resume_trains_exactly_like_an_uninterrupted_run(spec, tmp_path):
    reference = train(spec, SETTINGS, tmp_path / "ref", run_id="ref")
    expected = _weights(reference.adapter_dir)

    interrupted = replace(spec, output_uri=str(tmp_path / "out2" / "adapter"))
    steps = []
    total = reference.manifest["metrics"]["steps"]
    with pytest.raises(Cancelled):
        # Stop in the middle of the second epoch.
        train(
            interrupted,
            SETTINGS,
            tmp_path / "work",
            run_id="r2",
            should_stop=lambda: len(steps) >= total // 2,
            on_progress=steps.append,
        )
    assert steps[-1].epoch == 1
    assert not Path(interrupted.output_uri).exists()
    assert [p.name for p in (tmp_path / "work" / "checkpoints").iterdir()] == ["epoch-0000"]

    resumed = train(interrupted, SETTINGS, tmp_path / "work", run_id="r2")
    assert resumed.manifest["resumed_from_epochs"] == [0]
    assert resumed.manifest["metrics"]["steps"] == total
    got = _weights(resumed.adapter_dir)
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6)


def test_average_of_the_last_epochs(spec, tmp_path):
    averaged = replace(spec, average_last_epochs=2)
    result = train(averaged, SETTINGS, tmp_path / "work", run_id="r3")
    assert result.manifest["averaged_epochs"] == 2
    epochs = [_weights(tmp_path / "work" / "checkpoints" / f"epoch-000{e}") for e in (1, 2)]
    final = _weights(result.adapter_dir)
    for name, tensor in final.items():
        torch.testing.assert_close(tensor, (epochs[0][name] + epochs[1][name]) / 2)
    assert not torch.equal(
        epochs[0]["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"],
        epochs[1]["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"],
    )
    state = json.loads((tmp_path / "work/checkpoints/epoch-0002/state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]) == 3


def test_a_run_does_not_resume_on_changed_data(spec, tmp_path):
    steps = []
    with pytest.raises(Cancelled):
        train(
            spec,
            SETTINGS,
            tmp_path / "work",
            run_id="r4",
            should_stop=lambda: bool(steps) and steps[-1].epoch == 1,
            on_progress=steps.append,
        )
    write_dataset(Path(spec.dataset_uri), synthetic_items(8, seed=4, max_steps=6))
    with pytest.raises(FailedPrecondition, match="changed since this run started"):
        train(spec, SETTINGS, tmp_path / "work", run_id="r4")
    assert not Path(spec.output_uri).exists()


def test_a_full_output_disk_fails_naming_it_and_leaves_no_adapter(spec, tmp_path):
    with tmpfs(tmp_path / "full", full=True) as full:
        on_full = replace(spec, epochs=1, output_uri=str(full / "adapter"))
        with pytest.raises(ResourceExhausted) as caught:
            train(on_full, SETTINGS, tmp_path / "work", run_id="r6")
        assert str(caught.value) == (
            f"cannot write the adapter to {full}: No space left on device (ENOSPC); free space "
            "there, then resume"
        )
        assert os.listdir(full) == [".filler"]  # no adapter, no staging directory


def test_an_output_directory_that_cannot_be_made_fails_naming_it(spec, tmp_path):
    # The mount-free sibling of the full-disk test: the same write path, another OS error.
    (tmp_path / "blocked").write_text("a file where the adapter's directory must go")
    on_file = replace(spec, epochs=1, output_uri=str(tmp_path / "blocked" / "adapter"))
    with pytest.raises(FailedPrecondition) as caught:
        train(on_file, SETTINGS, tmp_path / "work", run_id="r7")
    assert str(caught.value) == (
        f"cannot write the adapter to {tmp_path / 'blocked'}: Not a directory (ENOTDIR); make "
        "the directory writable, then resume"
    )
