"""ListTrainingRuns through a real server on loopback: a walk over several pages (AIP-158) and each
documented error. The runs are finished runs on record, which the trainer loads at start as after
a restart; listing them trains nothing."""

from __future__ import annotations

import json

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from a3t.rpc.client import channel
from a3t.rpc.server import Registration, start_server
from a3t.trainer.v1 import trainer_pb2 as pb
from a3t.trainer.v1 import trainer_pb2_grpc
from a3t_trainer.config import TrainerSettings
from a3t_trainer.core import TrainerCore
from a3t_trainer.runs import RUN_RECORD, Run, RunState
from a3t_trainer.server import TrainerServicer
from a3t_trainer.train import TrainSpec

pytestmark = pytest.mark.asyncio(loop_scope="module")

# (run id, create time): two runs created in the same instant are ordered by id.
RECORDS = [("run-1", 1.0), ("run-2", 2.0), ("run-3a", 3.0), ("run-3b", 3.0), ("run-4", 4.0)]
RECORDS += [("run-5", 5.0)]


def finished_run(run_id: str, create_time: float) -> Run:
    spec = TrainSpec(
        base_model="tiny",
        dataset_uri="d.jsonl",
        output_uri=f"out/{run_id}",
        adapter_name=run_id,
        adapter_version=1,
        init_adapter_uri="",
        epochs=1,
        learning_rate=1e-4,
        lora_rank=16,
        lora_alpha=32,
        lora_target_modules=("q_proj", "v_proj"),
        quantize_4bit=False,
        include_observation_tokens=False,
        max_seq_tokens=512,
        negative_prob_floor=1e-3,
        average_last_epochs=1,
        seed=0,
        round=0,
    )
    return Run(
        run_id,
        f"req-{run_id}",
        spec,
        state=RunState.CANCELLED,
        create_time_seconds=create_time,
        end_time_seconds=create_time + 0.5,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stub(tmp_path_factory):
    state = tmp_path_factory.mktemp("trainer-state")
    for run_id, create_time in RECORDS:
        folder = state / "runs" / run_id
        folder.mkdir(parents=True)
        (folder / RUN_RECORD).write_text(json.dumps(finished_run(run_id, create_time).to_dict()))
    core = TrainerCore(TrainerSettings(state_dir=state, device="cpu"))
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
        yield trainer_pb2_grpc.TrainerServiceStub(chan)
    await core.close()
    await running.server.stop(0)


async def test_a_walk_over_the_pages_lists_every_run_once_newest_first(stub):
    pages, token = [], ""
    while True:
        page = await stub.ListTrainingRuns(
            pb.ListTrainingRunsRequest(page_size=2, page_token=token), timeout=5
        )
        pages.append([r.run_id for r in page.runs])
        token = page.next_page_token
        if not token:
            break
    assert pages == [["run-5", "run-4"], ["run-3b", "run-3a"], ["run-2", "run-1"]]
    everything = await stub.ListTrainingRuns(pb.ListTrainingRunsRequest(), timeout=5)
    assert [r.run_id for r in everything.runs] == [p for page in pages for p in page]
    assert everything.next_page_token == ""  # 0 = 50 a page: all six fit
    assert everything.runs[0].state == pb.TRAINING_RUN_STATE_CANCELLED


async def _code(call):
    with pytest.raises(aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details()


async def test_a_negative_page_size_and_a_foreign_token_are_invalid_arguments(stub):
    code, details = await _code(stub.ListTrainingRuns(pb.ListTrainingRunsRequest(page_size=-1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "page_size must be >= 0" in details
    code, details = await _code(
        stub.ListTrainingRuns(pb.ListTrainingRunsRequest(page_token="run-3a"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token 'run-3a' is not one this server returned" in details
