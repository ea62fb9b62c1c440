"""The run registry with a fake recipe: lifecycle, idempotency, validation, cancel, restarts."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from a3t.artifacts import write_manifest
from a3t.compose import write_dataset
from a3t.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from a3t_trainer.config import TrainerSettings
from a3t_trainer.runs import MAX_RESTARTS, RunRegistry, RunState, resolve_spec
from a3t_trainer.toy import toy_items
from a3t_trainer.train import Cancelled, Progress, TrainResult, TrainSpec


class FakeTrainer:
    """Emits `steps` progress updates; waits on `gate` before each when given; honours stop."""

    def __init__(self, steps: int = 3, gate: threading.Event | None = None, error=None):
        self.steps, self.gate, self.error = steps, gate, error
        self.calls: list[str] = []
        self.at_step = threading.Event()  # set once the first step is reported

    def __call__(self, spec, settings, work_dir, *, run_id, should_stop, on_progress):
        self.calls.append(run_id)
        for step in range(1, self.steps + 1):
            if self.gate is not None:
                while not self.gate.wait(0.01):
                    if should_stop():
                        raise Cancelled(run_id)
            if should_stop():
                raise Cancelled(run_id)
            if self.error is not None:
                raise self.error
            on_progress(
                Progress(step=step, total_steps=self.steps, epoch=step - 1, loss=1.0 / step)
            )
            self.at_step.set()
        out = Path(spec.output_uri)
        out.mkdir(parents=True, exist_ok=True)
        manifest = write_manifest(out, {"base_model": spec.base_model, "run_id": run_id})
        return TrainResult(out, json.loads(manifest.read_text()))


@pytest.fixture
def base(tmp_path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return model


@pytest.fixture
def spec(tmp_path, base) -> TrainSpec:
    dataset = write_dataset(tmp_path / "data.jsonl", toy_items())
    return TrainSpec(
        base_model=str(base),
        dataset_uri=str(dataset),
        output_uri=str(tmp_path / "out"),
        adapter_name="exp-round-0",
        adapter_version=1,
        init_adapter_uri="",
        epochs=0,
        learning_rate=0.0,
        lora_rank=0,
        lora_alpha=0,
        lora_target_modules=(),
        quantize_4bit=False,
        include_observation_tokens=False,
        max_seq_tokens=0,
        negative_prob_floor=0.0,
        average_last_epochs=0,
        seed=0,
        round=0,
    )


def settings(tmp_path) -> TrainerSettings:
    return TrainerSettings(state_dir=tmp_path / "state", device="cpu")


async def finished(registry: RunRegistry, run_id: str):
    seen = [run async for run in registry.watch(run_id)]
    return seen


def test_resolve_spec_fills_the_paper_defaults(spec, tmp_path):
    resolved = resolve_spec(spec, settings(tmp_path))
    assert resolved.max_seq_tokens == 2048
    assert (resolved.epochs, resolved.learning_rate) == (10, 1e-4)
    assert (resolved.lora_rank, resolved.lora_alpha) == (16, 32)
    assert resolved.lora_target_modules == ("q_proj", "v_proj")
    assert resolved.negative_prob_floor == 1e-3
    assert resolve_spec(replace(spec, round=2), settings(tmp_path)).epochs == 6
    resolved = resolve_spec(
        replace(spec, epochs=3, lora_rank=4, max_seq_tokens=64), settings(tmp_path)
    )
    assert (resolved.epochs, resolved.lora_rank, resolved.max_seq_tokens) == (3, 4, 64)


def test_resolve_spec_reports_every_bad_field_at_once(spec, tmp_path):
    bad = replace(
        spec,
        output_uri="",
        epochs=-1,
        learning_rate=float("nan"),
        max_seq_tokens=8,
        negative_prob_floor=1.5,
        lora_target_modules=("",),
    )
    with pytest.raises(InvalidArgument) as info:
        resolve_spec(bad, settings(tmp_path))
    message = str(info.value)
    for field in (
        "output_uri must be set",
        "epochs must be >= 0",
        "learning_rate",
        "max_seq_tokens",
        "negative_prob_floor",
        "lora_target_modules",
    ):
        assert field in message
    with pytest.raises(InvalidArgument, match="must not exceed epochs"):
        resolve_spec(replace(spec, epochs=2, average_last_epochs=3), settings(tmp_path))


async def test_create_returns_at_once_and_the_run_finishes(tmp_path, spec):
    fake = FakeTrainer(steps=3)
    registry = RunRegistry(settings(tmp_path), trainer=fake)
    await registry.start()
    run = await registry.create("req-1", spec)
    assert run.state is RunState.QUEUED and run.spec.epochs == 10
    seen = await finished(registry, run.run_id)
    assert seen[-1].state is RunState.SUCCEEDED
    assert seen[-1].output.uri == spec.output_uri and seen[-1].output.version == 1
    assert seen[-1].progress.step == 3 and seen[-1].end_time_seconds > 0
    assert RunState.RUNNING in {r.state for r in seen}
    # Idempotent: the same request id returns the same run and trains nothing new.
    again = await registry.create("req-1", replace(spec, epochs=99))
    assert again.run_id == run.run_id and fake.calls == [run.run_id]
    record = json.loads((tmp_path / "state/runs" / run.run_id / "run.json").read_text())
    assert record["state"] == "succeeded" and record["request_id"] == "req-1"
    assert registry.list().items == [registry.get(run.run_id)]
    await registry.close()


async def test_one_run_at_a_time(tmp_path, spec):
    gate = threading.Event()
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer(gate=gate))
    await registry.start()
    first = await registry.create("a", spec)
    with pytest.raises(ResourceExhausted, match=first.run_id):
        await registry.create("b", replace(spec, output_uri=spec.output_uri + "2"))
    gate.set()
    assert (await finished(registry, first.run_id))[-1].state is RunState.SUCCEEDED
    second = await registry.create("b", replace(spec, output_uri=spec.output_uri + "2"))
    assert (await finished(registry, second.run_id))[-1].state is RunState.SUCCEEDED
    assert [r.run_id for r in registry.list().items] == [second.run_id, first.run_id]
    page = registry.list(page_size=1)
    assert [r.run_id for r in page.items] == [second.run_id]
    rest = registry.list(page_size=1, page_token=page.next_page_token)
    assert [r.run_id for r in rest.items] == [first.run_id] and rest.next_page_token == ""
    await registry.close()


def _not_utf8(tmp_path: Path) -> str:
    """A dataset whose second line is Latin-1, not UTF-8."""
    path = tmp_path / "latin1.jsonl"
    good = write_dataset(tmp_path / "good.jsonl", toy_items()).read_bytes().splitlines()[0]
    path.write_bytes(good + b'\n{"weight": "caf\xe9"}\n')
    return str(path)


def _bad_line(tmp_path: Path) -> str:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"weight": "x", "trajectory": {}}\n')
    return str(path)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda s, t: {"dataset_uri": str(t / "none.jsonl")}, InvalidArgument, "does not exist"),
        (
            lambda s, t: {"dataset_uri": str(write_dataset(t / "e.jsonl", []))},
            InvalidArgument,
            "holds no trajectories",
        ),
        (
            lambda s, t: {"dataset_uri": _bad_line(t)},
            InvalidArgument,
            "bad.jsonl:1: weight must be a finite number",
        ),
        (
            lambda s, t: {
                "dataset_uri": str(
                    write_dataset(t / "z.jsonl", [replace(i, weight=0.0) for i in toy_items()])
                )
            },
            InvalidArgument,
            "every weight is 0",
        ),
        (lambda s, t: {"base_model": str(t / "no-model")}, FailedPrecondition, "unknown"),
        (lambda s, t: {"base_model": str(t)}, FailedPrecondition, "without config.json"),
        (
            lambda s, t: {"dataset_uri": "s3://bucket/data.jsonl"},
            FailedPrecondition,
            "only local paths",
        ),
        (lambda s, t: {"epochs": -2}, InvalidArgument, "epochs must be >= 0"),
        (
            lambda s, t: {"dataset_uri": _not_utf8(t)},
            InvalidArgument,
            r"latin1.jsonl:2: not UTF-8 \(invalid continuation byte at byte 15\)",
        ),
        (
            lambda s, t: {"dataset_uri": str(t / ("x" * 300) / "d.jsonl")},
            InvalidArgument,
            r"dataset_uri .*\(\d+ characters\) cannot be read: File name too long",
        ),
        (
            lambda s, t: {"output_uri": str(t / ("y" * 300))},
            InvalidArgument,
            "output_uri .* cannot be used: File name too long",
        ),
    ],
)
async def test_bad_input_is_refused_and_leaves_nothing(tmp_path, spec, change, error, message):
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer())
    await registry.start()
    with pytest.raises(error, match=message):
        await registry.create("r", replace(spec, **change(spec, tmp_path)))
    assert registry.list().items == [] and not list((tmp_path / "state/runs").iterdir())
    assert not Path(spec.output_uri).exists()
    await registry.close()


async def test_output_and_init_adapter_preconditions(tmp_path, spec):
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer())
    await registry.start()
    done = tmp_path / "done"
    done.mkdir()
    write_manifest(done, {"base_model": "other"})
    with pytest.raises(FailedPrecondition, match="already holds a finished adapter"):
        await registry.create("a", replace(spec, output_uri=str(done)))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(FailedPrecondition, match="not an empty directory"):
        await registry.create("b", replace(spec, output_uri=str(busy)))
    with pytest.raises(FailedPrecondition, match="trained on 'other'"):
        await registry.create("c", replace(spec, init_adapter_uri=str(done)))
    with pytest.raises(FailedPrecondition, match=r"init_adapter_uri: .* has no manifest\.json"):
        await registry.create("d", replace(spec, init_adapter_uri=str(busy)))
    with pytest.raises(InvalidArgument, match="request_id must be set"):
        await registry.create(" ", spec)
    assert registry.list().items == []
    # An empty output directory is fine.
    empty = tmp_path / "empty"
    empty.mkdir()
    run = await registry.create("e", replace(spec, output_uri=str(empty)))
    assert (await finished(registry, run.run_id))[-1].state is RunState.SUCCEEDED
    await registry.close()


async def test_cancel_a_running_run(tmp_path, spec):
    gate = threading.Event()
    fake = FakeTrainer(gate=gate)
    registry = RunRegistry(settings(tmp_path), trainer=fake)
    await registry.start()
    run = await registry.create("a", spec)
    while registry.get(run.run_id).state is not RunState.RUNNING:
        await asyncio.sleep(0.01)
    cancelled = await registry.cancel(run.run_id)
    assert cancelled.state is RunState.CANCELLED and cancelled.end_time_seconds > 0
    assert (await registry.cancel(run.run_id)) == cancelled  # final: unchanged
    assert not Path(spec.output_uri).exists()
    # The trainer is free again.
    gate.set()
    second = await registry.create("b", replace(spec, output_uri=spec.output_uri + "2"))
    assert (await finished(registry, second.run_id))[-1].state is RunState.SUCCEEDED
    await registry.close()


async def test_cancel_a_queued_run_before_the_worker_starts(tmp_path, spec):
    fake = FakeTrainer()
    registry = RunRegistry(settings(tmp_path), trainer=fake)
    await registry.start()
    await registry.close()  # worker gone: the run stays queued
    run = await registry.create("a", spec)
    assert (await registry.cancel(run.run_id)).state is RunState.CANCELLED
    restarted = RunRegistry(settings(tmp_path), trainer=fake)
    await restarted.start()
    assert restarted.get(run.run_id).state is RunState.CANCELLED and fake.calls == []
    await restarted.close()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (FailedPrecondition("lora_target_modules ['x']: not found"), "lora_target_modules"),
        (RuntimeError("CUDA out of memory"), "RuntimeError: CUDA out of memory"),
    ],
)
async def test_a_failing_recipe_fails_the_run_not_the_service(tmp_path, spec, error, message):
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer(error=error))
    await registry.start()
    run = await registry.create("a", spec)
    last = (await finished(registry, run.run_id))[-1]
    assert last.state is RunState.FAILED and message in last.error_message
    assert last.output is None
    await registry.close()


async def test_shutdown_pauses_and_a_restart_resumes(tmp_path, spec):
    gate = threading.Event()
    first = FakeTrainer(gate=gate)
    registry = RunRegistry(settings(tmp_path), trainer=first)
    await registry.start()
    run = await registry.create("a", spec)
    while registry.get(run.run_id).state is not RunState.RUNNING:
        await asyncio.sleep(0.01)
    await registry.close()
    assert registry.get(run.run_id).state is RunState.QUEUED
    second = FakeTrainer()
    restarted = RunRegistry(settings(tmp_path), trainer=second)
    await restarted.start()
    last = (await finished(restarted, run.run_id))[-1]
    assert last.state is RunState.SUCCEEDED and last.restarts == 0
    assert second.calls == [run.run_id]
    await restarted.close()


async def test_a_run_that_was_running_when_the_trainer_died_is_resumed(tmp_path, spec):
    gate = threading.Event()
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer(gate=gate))
    await registry.start()
    run = await registry.create("a", spec)
    while registry.get(run.run_id).state is not RunState.RUNNING:
        await asyncio.sleep(0.01)
    # A crash: the record on disk says RUNNING. A new registry over the same state resumes it.
    record = tmp_path / "state/runs" / run.run_id / "run.json"
    assert json.loads(record.read_text())["state"] == "running"
    snapshot = record.read_text()
    gate.set()
    await finished(registry, run.run_id)
    await registry.close()
    record.write_text(snapshot)
    Path(spec.output_uri, "manifest.json").unlink()
    Path(spec.output_uri).rmdir()

    fake = FakeTrainer()
    restarted = RunRegistry(settings(tmp_path), trainer=fake)
    await restarted.start()
    last = (await finished(restarted, run.run_id))[-1]
    assert (last.state, last.restarts, fake.calls) == (RunState.SUCCEEDED, 1, [run.run_id])
    await restarted.close()

    # After MAX_RESTARTS crashes the run fails instead of crash-looping the service.
    data = json.loads(snapshot)
    data["restarts"] = MAX_RESTARTS
    record.write_text(json.dumps(data))
    again = RunRegistry(settings(tmp_path), trainer=fake)
    await again.start()
    failed = again.get(run.run_id)
    assert failed.state is RunState.FAILED and "not resuming it again" in failed.error_message
    await again.close()


async def test_unknown_runs(tmp_path):
    registry = RunRegistry(settings(tmp_path), trainer=FakeTrainer())
    await registry.start()
    with pytest.raises(NotFound):
        registry.get("nope")
    with pytest.raises(NotFound):
        await registry.cancel("nope")
    with pytest.raises(NotFound):
        await anext(registry.watch("nope"))
    with pytest.raises(InvalidArgument):
        registry.list(-1)
    await registry.close()


async def test_paths_outside_the_artifact_root_are_refused_by_field(spec, tmp_path):
    root = tmp_path / "artifacts"
    root.mkdir()
    inside = replace(
        spec,
        dataset_uri=str(write_dataset(root / "data.jsonl", toy_items())),
        output_uri=str(root / "out"),
    )
    registry = RunRegistry(
        replace(settings(tmp_path), artifact_root=root), FakeTrainer(), clock=lambda: 1.0
    )
    await registry.start()
    (root / "escape").symlink_to(tmp_path)
    try:
        for field, uri, says in (
            ("dataset_uri", f"{root}/../data.jsonl", "contains '..'"),
            ("output_uri", str(tmp_path / "out"), "outside the artifact root"),
            ("init_adapter_uri", str(root / "escape" / "a"), "outside the artifact root"),
        ):
            with pytest.raises(InvalidArgument, match=rf"^{field} '.*' .*{says}"):
                await registry.create(f"r-{field}", replace(inside, **{field: uri}))
        run = await registry.create("ok", inside)
        assert run.spec.output_uri == str(root / "out")
    finally:
        await registry.close()


async def test_a_damaged_init_adapter_is_refused_naming_the_file(spec, tmp_path):
    init = tmp_path / "init"
    init.mkdir()
    (init / "adapter_model.safetensors").write_bytes(b"0123456789")
    write_manifest(init, {"base_model": spec.base_model})
    (init / "adapter_model.safetensors").write_bytes(b"01234")
    registry = RunRegistry(settings(tmp_path), FakeTrainer(), clock=lambda: 1.0)
    with pytest.raises(FailedPrecondition, match=r"^init_adapter_uri: .*safetensors has 5 bytes"):
        await registry.create("r", replace(spec, init_adapter_uri=str(init)))
