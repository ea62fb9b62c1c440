"""The trainer as a real process (`python -m a3t_trainer`) on free loopback ports, training the
tiny model: cancel; kill -9 mid-run + restart resumes from the last epoch checkpoint
and finishes; bad config exits with every problem."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from a3t.artifacts import read_manifest
from a3t.compose import write_dataset
from a3t.procs import start_service
from a3t.rpc.client import call, channel
from a3t.trainer.v1 import trainer_pb2 as pb
from a3t.trainer.v1 import trainer_pb2_grpc
from a3t_trainer.toy import synthetic_items


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from a3t.inference.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def spec(tiny_model: Path, tmp_path: Path, name: str, epochs: int) -> pb.TrainingSpec:
    dataset = tmp_path / "data.jsonl"
    if not dataset.exists():
        write_dataset(dataset, synthetic_items(24, seed=5, max_steps=8))
    return pb.TrainingSpec(
        base_model=str(tiny_model),
        dataset_uri=str(dataset),
        output_uri=str(tmp_path / name),
        adapter_name=name,
        adapter_version=1,
        epochs=epochs,
        learning_rate=5e-3,
        lora_rank=8,
        lora_alpha=16,
        max_seq_tokens=256,
        seed=3,
    )


def start(tmp_path: Path):
    return start_service(
        "trainer",
        ["--state-dir", str(tmp_path / "state"), "--device", "cpu", "--torch-threads", "1"],
        log_dir=tmp_path,
    )


async def test_cancel_a_run_in_a_real_trainer(tiny_model, tmp_path):
    proc = start(tmp_path)
    try:
        await proc.wait_ready(timeout=120)
        async with channel(proc.target) as chan:
            stub = trainer_pb2_grpc.TrainerServiceStub(chan)
            request = pb.CreateTrainingRunRequest(
                request_id="c1", spec=spec(tiny_model, tmp_path, "out", epochs=200)
            )
            run = await call(stub.CreateTrainingRun, request, timeout=60)
            async for update in stub.WatchTrainingRun(
                pb.WatchTrainingRunRequest(run_id=run.run_id)
            ):
                if update.progress.step >= 3:
                    break
            cancelled = await call(
                stub.CancelTrainingRun, pb.CancelTrainingRunRequest(run_id=run.run_id), timeout=60
            )
            assert cancelled.state == pb.TRAINING_RUN_STATE_CANCELLED
            assert 3 <= cancelled.progress.step < cancelled.progress.total_steps
        metrics = (
            urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5)
            .read()
            .decode()
        )
        assert 'a3t_trainer_runs{state="cancelled"} 1.0' in metrics
        assert 'a3t_trainer_runs{state="running"} 0.0' in metrics
    finally:
        code = proc.stop()
    assert code == 0, proc.log_tail()
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    assert not (tmp_path / "state" / "runs" / run.run_id / "checkpoints").exists()


async def test_kill_mid_run_and_restart_resumes_and_finishes(tiny_model, tmp_path):
    request = pb.CreateTrainingRunRequest(
        request_id="k1", spec=spec(tiny_model, tmp_path, "adapter", epochs=12)
    )
    proc = start(tmp_path)
    try:
        await proc.wait_ready(timeout=120)
        async with channel(proc.target) as chan:
            stub = trainer_pb2_grpc.TrainerServiceStub(chan)
            run = await call(stub.CreateTrainingRun, request, timeout=60)
            async for update in stub.WatchTrainingRun(
                pb.WatchTrainingRunRequest(run_id=run.run_id)
            ):
                if update.progress.epoch >= 2:  # epochs 0 and 1 are checkpointed
                    break
        proc.process.kill()  # SIGKILL: no graceful path
        proc.process.wait(30)
    finally:
        proc.stop()
    assert not (tmp_path / "adapter").exists()

    restarted = start(tmp_path)
    try:
        await restarted.wait_ready(timeout=120)
        async with channel(restarted.target) as chan:
            stub = trainer_pb2_grpc.TrainerServiceStub(chan)
            updates = [
                u
                async for u in stub.WatchTrainingRun(pb.WatchTrainingRunRequest(run_id=run.run_id))
            ]
            # The client's retry after the crash gets the same run back, not a second one.
            retry = await call(stub.CreateTrainingRun, request, timeout=60)
    finally:
        code = restarted.stop()
    assert code == 0, restarted.log_tail()
    done = updates[-1]
    assert done.state == pb.TRAINING_RUN_STATE_SUCCEEDED, done.error_message
    assert retry.run_id == run.run_id and done.output.uri == str(tmp_path / "adapter")
    manifest = read_manifest(tmp_path / "adapter")
    (resumed_after,) = manifest["resumed_from_epochs"]
    assert 1 <= resumed_after < 11
    assert manifest["metrics"]["steps"] == done.progress.total_steps
    assert "resuming after epoch" in restarted.log_tail(200)

    # (That a resumed run ends with exactly the adapter of an uninterrupted one is shown
    # in-process by tests/unit/trainer/test_train.py.)


def test_bad_config_exits_with_every_problem():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "a3t_trainer",
            "--device",
            "tpu",
            "--max-seq-tokens",
            "3",
            "--tokens-per-step",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "device must be one of auto, cpu, cuda" in out.stderr
    assert "max_seq_tokens must be >= 16" in out.stderr
    assert "--tokens-per-step: expected an integer" in out.stderr
