"""Every TrainerService RPC through a real server on a loopback port, training the tiny model for
real: the contrastive acceptance test (log-probs and the local engine's greedy output move toward
the positives), idempotency, cancel, and each documented error code."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc import aio
from peft import PeftModel
from prometheus_client import REGISTRY

from a3t.artifacts import read_manifest
from a3t.compose import WeightedTrajectory, write_dataset
from a3t.inference.base import GenerationParams
from a3t.inference.chat import react_messages
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.rpc.client import channel
from a3t.rpc.server import Registration, start_server
from a3t.trainer.v1 import trainer_pb2 as pb
from a3t.trainer.v1 import trainer_pb2_grpc
from a3t_trainer.config import TrainerSettings
from a3t_trainer.core import TrainerCore
from a3t_trainer.data import build_examples
from a3t_trainer.server import TrainerServicer
from a3t_trainer.toy import synthetic_items, toy_items
from a3t_trainer.train import TrainSpec, load_base, score_examples

pytestmark = pytest.mark.asyncio(loop_scope="module")
SUCCEEDED = pb.TRAINING_RUN_STATE_SUCCEEDED
# A short system prompt keeps the tiny model's sequences short (the default, the policy's ALFWorld
# prompt, is covered by tests/unit/trainer/test_data.py).
SYSTEM = "You are an agent in a household."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trainer(tmp_path_factory):
    state = tmp_path_factory.mktemp("trainer-state")
    core = TrainerCore(TrainerSettings(state_dir=state, device="cpu", tokens_per_step=512))
    await core.start()
    running = await start_server(
        "trainer",
        [
            Registration(
                trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
                TrainerServicer(core),
                "a3t.trainer.v1.TrainerService",
            )
        ],
        metrics_port=None,
    )
    await running.set_serving(True)
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield trainer_pb2_grpc.TrainerServiceStub(chan), state
    await core.close()
    await running.server.stop(0)


def spec(tiny_model: Path, dataset: Path, output: Path, **fields) -> pb.TrainingSpec:
    values = {
        "base_model": str(tiny_model),
        "dataset_uri": str(dataset),
        "output_uri": str(output),
        "adapter_name": output.name,
        "adapter_version": 1,
        "epochs": 20,
        "learning_rate": 1e-2,
        "max_seq_tokens": 512,
        "seed": 1,
        "system_prompt": SYSTEM,
    }
    return pb.TrainingSpec(**{**values, **fields})


async def watch(stub, run_id: str) -> list[pb.TrainingRun]:
    return [r async for r in stub.WatchTrainingRun(pb.WatchTrainingRunRequest(run_id=run_id))]


async def code_of(coro) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


async def test_contrastive_training_moves_the_policy_toward_the_positives(
    trainer, tiny_model, tiny_tokenizer, tmp_path
):
    stub, _ = trainer
    items = toy_items()
    _mug, success, _success_2, failure = items
    assert [i.weight for i in items] == [1.0, 1 / 3, 1 / 3, -2 / 3]

    # "Before": a policy that produced the failure (SFT on it), standing in for round r-1.
    only_failure = write_dataset(
        tmp_path / "f.jsonl", [WeightedTrajectory(1.0, failure.trajectory)]
    )
    before_dir = tmp_path / "round-0" / "adapter"
    run = await stub.CreateTrainingRun(
        pb.CreateTrainingRunRequest(
            request_id="exp-round-0", spec=spec(tiny_model, only_failure, before_dir)
        ),
        timeout=30,
    )
    assert run.state == pb.TRAINING_RUN_STATE_QUEUED and run.run_id
    assert run.spec.lora_rank == 16 and list(run.spec.lora_target_modules) == ["q_proj", "v_proj"]
    assert (await watch(stub, run.run_id))[-1].state == SUCCEEDED

    # "After": the contrastive round continuing from that adapter.
    dataset = write_dataset(tmp_path / "round-1" / "dataset.jsonl", items)
    after_dir = tmp_path / "round-1" / "adapter"
    run = await stub.CreateTrainingRun(
        pb.CreateTrainingRunRequest(
            request_id="exp-round-1",
            spec=spec(
                tiny_model,
                dataset,
                after_dir,
                round=1,
                epochs=30,
                learning_rate=5e-3,
                adapter_version=2,
                init_adapter_uri=str(before_dir),
            ),
        ),
        timeout=30,
    )
    stream = await watch(stub, run.run_id)
    done = stream[-1]
    assert done.state == SUCCEEDED and done.end_time_seconds >= done.create_time_seconds
    assert done.output.uri == str(after_dir) and done.output.version == 2
    assert done.output.base_model == str(tiny_model) and done.output.name == "adapter"
    progress = [r.progress for r in stream if r.progress.step]
    assert [p.step for p in progress] == sorted(p.step for p in progress)
    # Two steps an epoch: the mug task and the apple task (its three trajectories together).
    assert progress[-1].step == progress[-1].total_steps == 60
    assert progress[-1].epoch == 29 and progress[-1].tokens_per_second > 0
    assert all(p.loss == pytest.approx(p.loss_positive + p.loss_negative) for p in progress)
    # A step's pack may hold positives only; over the run both parts show.
    assert all(p.loss_positive >= 0 >= p.loss_negative for p in progress)
    assert any(p.loss_negative < 0 for p in progress) and progress[-1].eta_seconds == 0
    manifest = read_manifest(after_dir)
    assert manifest["round"] == 1 and manifest["init_adapter_uri"] == str(before_dir)
    assert manifest["metrics"]["negative_examples"] == 1

    # Log-probs of each trajectory's agent tokens, before and after.
    examples = build_examples(tiny_tokenizer, items, system_prompt=SYSTEM, max_tokens=512)
    scores = {}
    for name, adapter in (("before", before_dir), ("after", after_dir)):
        base, _ = load_base(TrainSpec(**_resolved(done.spec)), "cpu")
        scores[name] = score_examples(
            PeftModel.from_pretrained(base, str(adapter)).eval(), examples
        )
    before, after = scores["before"], scores["after"]
    assert all(after[i] > before[i] + 10 for i in (0, 1, 2))  # the positives up
    assert after[3] < before[3] - 10  # the negative down

    # The adapters load into the local engine; greedy decoding at the step where the failure
    # and the success part ways now follows the success.
    engine = LocalEngine(LocalEngineConfig(model=str(tiny_model), threads=1))
    try:
        await engine.load_adapter("before", str(before_dir))
        await engine.load_adapter("after", str(after_dir))
        trajectory = failure.trajectory
        messages = react_messages(
            SYSTEM, (), trajectory.task, trajectory.initial_observation, trajectory.steps[:1]
        )
        params = GenerationParams(max_new_tokens=16)
        negative_action = trajectory.steps[1].action  # "go to drawer 2"
        positive_action = success.trajectory.steps[1].action  # "open fridge 1"
        greedy, scores = {}, {}
        for name in ("before", "after"):
            greedy[name] = (await engine.generate(messages, params, adapter=name)).text
            scores[name] = await engine.score_continuations(
                messages, "", [positive_action, negative_action], adapter=name
            )
    finally:
        await engine.close()
    assert scores["before"][1] > scores["before"][0] and scores["after"][0] > scores["after"][1]
    # (A tiny model may run on after the action; the policy parses the first line.)
    assert greedy["before"].startswith(negative_action), greedy
    assert greedy["after"].startswith(positive_action), greedy

    # Metrics saw the steps and the finished runs.
    assert REGISTRY.get_sample_value("a3t_trainer_steps_total") >= 80
    assert REGISTRY.get_sample_value("a3t_trainer_tokens_total") > 0
    assert REGISTRY.get_sample_value("a3t_trainer_runs", {"state": "succeeded"}) >= 2


def _resolved(msg: pb.TrainingSpec) -> dict:
    fields = {f.name: getattr(msg, f.name) for f in pb.TrainingSpec.DESCRIPTOR.fields}
    fields["lora_target_modules"] = tuple(fields["lora_target_modules"])
    return fields


async def test_create_is_idempotent_and_get_and_list_show_the_run(trainer, tiny_model, tmp_path):
    stub, state = trainer
    dataset = write_dataset(tmp_path / "d.jsonl", toy_items())
    request = pb.CreateTrainingRunRequest(
        request_id="idem-1", spec=spec(tiny_model, dataset, tmp_path / "a", epochs=1)
    )
    first = await stub.CreateTrainingRun(request, timeout=30)
    retry = await stub.CreateTrainingRun(request, timeout=30)
    assert retry.run_id == first.run_id
    await watch(stub, first.run_id)
    got = await stub.GetTrainingRun(pb.GetTrainingRunRequest(run_id=first.run_id), timeout=5)
    assert got.state == SUCCEEDED and got.request_id == "idem-1" and got.spec.epochs == 1
    # A retry after the run finished still returns it, and trains nothing new.
    late = await stub.CreateTrainingRun(request, timeout=30)
    assert late.run_id == first.run_id and late.state == SUCCEEDED
    listed = await stub.ListTrainingRuns(pb.ListTrainingRunsRequest(), timeout=5)
    assert listed.runs[0].run_id == first.run_id
    assert sum(r.request_id == "idem-1" for r in listed.runs) == 1
    one = await stub.ListTrainingRuns(pb.ListTrainingRunsRequest(page_size=1), timeout=5)
    assert [r.run_id for r in one.runs] == [first.run_id]
    record = json.loads((state / "runs" / first.run_id / "run.json").read_text())
    assert record["state"] == "succeeded"
    assert not (state / "runs" / first.run_id / "checkpoints").exists()


async def test_cancel_and_one_run_at_a_time(trainer, tiny_model, tmp_path):
    stub, _ = trainer
    dataset = write_dataset(tmp_path / "d.jsonl", synthetic_items(40, seed=2))
    output = tmp_path / "long"
    run = await stub.CreateTrainingRun(
        pb.CreateTrainingRunRequest(
            request_id="long-1", spec=spec(tiny_model, dataset, output, epochs=50)
        ),
        timeout=30,
    )
    async for update in stub.WatchTrainingRun(pb.WatchTrainingRunRequest(run_id=run.run_id)):
        if update.progress.step >= 2:
            break
    code, details = await code_of(
        stub.CreateTrainingRun(
            pb.CreateTrainingRunRequest(
                request_id="other", spec=spec(tiny_model, dataset, tmp_path / "other")
            )
        )
    )
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and run.run_id in details
    cancelled = await stub.CancelTrainingRun(
        pb.CancelTrainingRunRequest(run_id=run.run_id), timeout=30
    )
    assert cancelled.state == pb.TRAINING_RUN_STATE_CANCELLED
    assert 2 <= cancelled.progress.step < cancelled.progress.total_steps
    assert not output.exists() and not list(tmp_path.glob(".long.partial-*"))
    # Watching a finished run gives it once; cancelling it again changes nothing.
    assert [r.state for r in await watch(stub, run.run_id)] == [pb.TRAINING_RUN_STATE_CANCELLED]
    again = await stub.CancelTrainingRun(pb.CancelTrainingRunRequest(run_id=run.run_id))
    assert again == cancelled


async def test_documented_errors_leave_nothing_behind(trainer, tiny_model, tmp_path):
    stub, state = trainer
    runs_before = set((state / "runs").iterdir())
    good = write_dataset(tmp_path / "good.jsonl", toy_items())
    empty = write_dataset(tmp_path / "empty.jsonl", [])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text().replace('"weight": 1.0', '"weight": "one"', 1))
    done = tmp_path / "done"
    done.mkdir()
    (done / "manifest.json").write_text('{"base_model": "x"}')
    out = tmp_path / "out"
    cases = [
        ("", spec(tiny_model, good, out), grpc.StatusCode.INVALID_ARGUMENT, "request_id"),
        (
            "e1",
            spec(tiny_model, tmp_path / "nope.jsonl", out),
            grpc.StatusCode.INVALID_ARGUMENT,
            "does not exist",
        ),
        ("e2", spec(tiny_model, empty, out), grpc.StatusCode.INVALID_ARGUMENT, "no trajectories"),
        (
            "e3",
            spec(tiny_model, bad, out),
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad.jsonl:1: weight must be a finite number, got 'one'",
        ),
        (
            "e4",
            spec(tiny_model, good, out, epochs=-1, lora_rank=-3),
            grpc.StatusCode.INVALID_ARGUMENT,
            "epochs must be >= 0",
        ),
        (
            "e5",
            spec(tmp_path / "no-such-model", good, out),
            grpc.StatusCode.FAILED_PRECONDITION,
            "is unknown",
        ),
        (
            "e6",
            spec(tiny_model, good, done),
            grpc.StatusCode.FAILED_PRECONDITION,
            "already holds a finished adapter",
        ),
    ]
    for request_id, request_spec, want, message in cases:
        code, details = await code_of(
            stub.CreateTrainingRun(
                pb.CreateTrainingRunRequest(request_id=request_id, spec=request_spec)
            )
        )
        assert (code, request_id) == (want, request_id) and message in details, details
    assert set((state / "runs").iterdir()) == runs_before and not out.exists()
    for call in (
        stub.GetTrainingRun(pb.GetTrainingRunRequest(run_id="nope")),
        stub.CancelTrainingRun(pb.CancelTrainingRunRequest(run_id="nope")),
        watch(stub, "nope"),
    ):
        code, details = await code_of(call)
        assert code == grpc.StatusCode.NOT_FOUND and "nope" in details


async def test_a_run_that_fails_in_training_reports_why(trainer, tiny_model, tmp_path):
    stub, _ = trainer
    dataset = write_dataset(tmp_path / "d.jsonl", toy_items())
    run = await stub.CreateTrainingRun(
        pb.CreateTrainingRunRequest(
            request_id="bad-modules",
            spec=spec(tiny_model, dataset, tmp_path / "x", lora_target_modules=["no_such_proj"]),
        ),
        timeout=30,
    )
    last = (await watch(stub, run.run_id))[-1]
    assert last.state == pb.TRAINING_RUN_STATE_FAILED
    assert "lora_target_modules" in last.error_message and "no_such_proj" in last.error_message
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.partial-*"))
