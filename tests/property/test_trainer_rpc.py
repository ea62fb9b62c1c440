"""The trainer's RPCs with generated requests, through the real TrainerServicer and TrainerCore
on a loopback port: every answer is OK or a documented client error, never INTERNAL / UNKNOWN,
within a few seconds.

Half the requests name a real dataset (the toy trajectories) so they get past the file checks
to the base-model check; no base model a request can name here loads, so nothing trains.
"""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a3t.compose import write_dataset
from a3t.rpc.server import Registration, start_server
from a3t.trainer.v1 import trainer_pb2 as pb
from a3t.trainer.v1 import trainer_pb2_grpc
from a3t_trainer.config import TrainerSettings
from a3t_trainer.core import TrainerCore
from a3t_trainer.server import TrainerServicer
from a3t_trainer.toy import toy_items
from tests.property.loopback import answer
from tests.property.strategies import messages


@pytest.fixture(scope="module")
def trainer(loop, tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    dataset = write_dataset(root / "dataset.jsonl", toy_items())

    async def start():
        core = TrainerCore(TrainerSettings(state_dir=root / "state", device="cpu"))
        await core.start()
        registration = Registration(
            trainer_pb2_grpc.add_TrainerServiceServicer_to_server,
            TrainerServicer(core),
            "a3t.trainer.v1.TrainerService",
        )
        running = await start_server("trainer", [registration], metrics_port=None)
        await running.set_serving(True)
        return core, running

    core, running = loop.run(start())
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as chan:
        yield trainer_pb2_grpc.TrainerServiceStub(chan), str(dataset), root
    loop.run(core.close())
    loop.run(running.server.stop(0))


def _create_requests(dataset: str, root) -> st.SearchStrategy[pb.CreateTrainingRunRequest]:
    return messages(
        pb.CreateTrainingRunRequest,
        {
            "request_id": st.uuids().map(str),
            "spec.dataset_uri": dataset,
            "spec.output_uri": str(root / "out"),
            "spec.adapter_name": "a",
            "spec.epochs": st.integers(0, 3),
            "spec.learning_rate": st.floats(0, 1),
            "spec.max_seq_tokens": st.integers(0, 64),
            "spec.negative_prob_floor": st.floats(0, 1),
        },
    )


@given(data=st.data())
def test_create_training_run_fields(trainer, data):
    stub, dataset, root = trainer
    request = data.draw(_create_requests(dataset, root))
    code, _, details = answer(stub.CreateTrainingRun, request)
    # No generated base_model loads here (random text, never a checkpoint directory with a
    # config.json): nothing may start training.
    assert code != grpc.StatusCode.OK, request.spec.base_model
    assert details


@given(
    get=messages(pb.GetTrainingRunRequest),
    watch=messages(pb.WatchTrainingRunRequest),
    cancel=messages(pb.CancelTrainingRunRequest),
    listing=messages(pb.ListTrainingRunsRequest),
)
def test_read_and_cancel_fields(trainer, get, watch, cancel, listing):
    stub, _, _ = trainer
    for method, request, stream in (
        (stub.GetTrainingRun, get, False),
        (stub.WatchTrainingRun, watch, True),
        (stub.CancelTrainingRun, cancel, False),
    ):
        code, _, _ = answer(method, request, stream=stream)
        assert code == grpc.StatusCode.NOT_FOUND  # no run exists
    code, response, _ = answer(stub.ListTrainingRuns, listing)
    # A generated page_token is never one the server made (those are base64 of its sort key).
    refused = listing.page_size < 0 or listing.page_token != ""
    assert (code == grpc.StatusCode.INVALID_ARGUMENT) == refused
    if code == grpc.StatusCode.OK:
        assert list(response.runs) == [] and response.next_page_token == ""
