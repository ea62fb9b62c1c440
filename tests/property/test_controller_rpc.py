"""The controller's RPCs with generated requests, through the real ControllerServicer over a real
SQLite store on a loopback port (the services it drives are the unit tests' fakes): every
answer is OK or a documented client error, never INTERNAL / UNKNOWN, within a few seconds.

An experiment a generated request manages to create is cancelled at once, which exercises Get,
ListRounds, Watch (a final experiment's stream ends) and Resume on a real row too.
"""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a3t.controller.v1 import controller_pb2 as pb
from a3t.controller.v1 import controller_pb2_grpc
from a3t.paging import DEFAULT_PAGE_SIZE
from a3t.rpc.server import Registration, start_server
from a3t_controller.core import ControllerCore
from a3t_controller.server import ControllerServicer
from a3t_controller.store import Store
from tests.property.loopback import answer
from tests.property.strategies import hostile_text, messages
from tests.property.test_config import _documents
from tests.unit.controller.fakes import (
    FakeEnv,
    fake_services,
    tasks,
)

OK = grpc.StatusCode.OK


@pytest.fixture(scope="module")
def controller(loop, tmp_path_factory):
    root = tmp_path_factory.mktemp("controller")
    env = FakeEnv({"train": tasks("train", 2), "eval": tasks("eval", 2, start=10)})
    services = fake_services(env)

    async def start():
        core = ControllerCore(Store(root / "c.sqlite"), services, root / "artifacts")
        servicer = ControllerServicer(core)
        registration = Registration(
            controller_pb2_grpc.add_ControllerServiceServicer_to_server,
            servicer,
            "a3t.controller.v1.ControllerService",
        )
        running = await start_server("controller", [registration], metrics_port=None)
        await running.set_serving(True)
        return core, running

    core, running = loop.run(start())
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as chan:
        yield controller_pb2_grpc.ControllerServiceStub(chan)
    loop.run(core.stop_all())
    loop.run(running.server.stop(0))


_VALID = {
    "request_id": hostile_text(40),
    "spec.name": st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True),
    "spec.env": st.sampled_from(["alfworld", "webshop", "apibank"]),
    "spec.train_split": "train",
    "spec.eval_split": "eval",
    "spec.rounds": st.integers(0, 2),
    "spec.max_steps": st.integers(-1, 4),
    "spec.explore_probability": st.lists(st.floats(0, 1), max_size=2),
    "spec.config_yaml": _documents(),
}
_IDS = {"experiment_id": st.sampled_from(["", "nope", "local"])}


@given(request=messages(pb.CreateExperimentRequest, _VALID))
def test_create_experiment_fields(controller, request):
    code, experiment, _ = answer(controller.CreateExperiment, request)
    if code != OK:
        return
    eid = experiment.experiment_id
    # The same name and config under another request_id is the same experiment (how `a3t run`
    # resumes by name), so the request_id answered may be an earlier request's.
    assert eid and experiment.spec.name and experiment.request_id
    # Stop it before it runs long, then every per-experiment RPC on the real row.
    code, cancelled, _ = answer(
        controller.CancelExperiment, pb.CancelExperimentRequest(experiment_id=eid)
    )
    assert code == OK and cancelled.state in (
        pb.EXPERIMENT_STATE_CANCELLED, pb.EXPERIMENT_STATE_FAILED, pb.EXPERIMENT_STATE_SUCCEEDED
    )  # fmt: skip
    assert answer(controller.GetExperiment, pb.GetExperimentRequest(experiment_id=eid))[0] == OK
    assert answer(controller.ListRounds, pb.ListRoundsRequest(experiment_id=eid))[0] == OK
    code, events, _ = answer(
        controller.WatchExperiment, pb.WatchExperimentRequest(experiment_id=eid), stream=True
    )
    assert code == OK and events[-1].experiment_id == eid
    code, _, _ = answer(controller.ResumeExperiment, pb.ResumeExperimentRequest(experiment_id=eid))
    if code == OK:
        answer(controller.CancelExperiment, pb.CancelExperimentRequest(experiment_id=eid))


@given(
    get=messages(pb.GetExperimentRequest, _IDS),
    rounds=messages(pb.ListRoundsRequest, _IDS),
    cancel=messages(pb.CancelExperimentRequest, _IDS),
    listing=messages(pb.ListExperimentsRequest),
)
def test_read_and_cancel_fields(controller, get, rounds, cancel, listing):
    for method, request in (
        (controller.GetExperiment, get),
        (controller.ListRounds, rounds),
        (controller.CancelExperiment, cancel),
    ):
        code, _, _ = answer(method, request)
        assert code in (OK, grpc.StatusCode.NOT_FOUND)
    code, response, _ = answer(controller.ListExperiments, listing)
    # A generated page_token is never one the server made (those are base64 of its sort key).
    refused = listing.page_size < 0 or listing.page_token != ""
    assert (code == grpc.StatusCode.INVALID_ARGUMENT) == refused
    if code == OK:
        assert len(response.experiments) <= (listing.page_size or DEFAULT_PAGE_SIZE)


@given(
    watch=messages(pb.WatchExperimentRequest),
    resume=messages(pb.ResumeExperimentRequest),
)
def test_watch_and_resume_unknown_ids(controller, watch, resume):
    # Generated ids are never server-made ids, nor an experiment name used above (those are
    # [a-z0-9_-] and these are arbitrary text that rarely matches): NOT_FOUND.
    code, _, _ = answer(controller.WatchExperiment, watch, stream=True)
    assert code in (OK, grpc.StatusCode.NOT_FOUND)
    code, _, _ = answer(controller.ResumeExperiment, resume)
    assert code in (OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
    if code == OK:  # a name that matched: stop what Resume started
        answer(
            controller.CancelExperiment,
            pb.CancelExperimentRequest(experiment_id=resume.experiment_id),
        )
