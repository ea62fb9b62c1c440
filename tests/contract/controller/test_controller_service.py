"""ControllerService through a real server on loopback, driving the round loop over fakes."""

import asyncio
import uuid

import grpc
import pytest
from grpc import aio

from a3t.controller.v1 import controller_pb2 as pb
from a3t.controller.v1 import controller_pb2_grpc
from a3t.rpc.client import channel
from a3t.rpc.server import Registration, start_server
from a3t_controller.config import SELECTORS
from a3t_controller.core import ControllerCore
from a3t_controller.server import ControllerServicer, config_from_spec
from a3t_controller.store import Store
from tests.unit.controller.fakes import (
    FakeEnv,
    fake_services,
    tasks,
)

YAML = "max_steps: 6\nexplore_attempts: 4\nexplore_probability: [1.0]\nconcurrency: 2\n"


@pytest.fixture
async def stub(tmp_path):
    env = FakeEnv({"train": tasks("train", 4), "eval": tasks("eval", 2, start=10)})
    env.step_delay = 0.02
    services = fake_services(env)
    store = Store(tmp_path / "c.sqlite")
    core = ControllerCore(store, services, tmp_path / "artifacts")
    servicer = ControllerServicer(core)
    running = await start_server(
        "controller",
        [
            Registration(
                controller_pb2_grpc.add_ControllerServiceServicer_to_server,
                servicer,
                "a3t.controller.v1.ControllerService",
            )
        ],
        metrics_port=None,
    )
    await running.set_serving(True)
    async with channel(f"127.0.0.1:{running.port}") as chan:
        stub = controller_pb2_grpc.ControllerServiceStub(chan)
        stub.services = services  # the fakes, for tests that make a service fail
        yield stub
    await core.stop_all()
    await running.server.stop(0)


def spec(name="e1", **kw):
    fields = {
        "name": name,
        "train_split": "train",
        "eval_split": "eval",
        "rounds": 1,
        "config_yaml": YAML,
    }
    return pb.ExperimentSpec(**{**fields, **kw})


async def test_create_watch_list(stub):
    rid = str(uuid.uuid4())
    exp = await stub.CreateExperiment(pb.CreateExperimentRequest(request_id=rid, spec=spec()))
    assert exp.spec.name == "e1"
    again = await stub.CreateExperiment(pb.CreateExperimentRequest(request_id=rid, spec=spec()))
    assert again.experiment_id == exp.experiment_id  # idempotent
    events = [
        e
        async for e in stub.WatchExperiment(
            pb.WatchExperimentRequest(experiment_id=exp.experiment_id), timeout=60
        )
    ]
    assert events[-1].state == pb.EXPERIMENT_STATE_SUCCEEDED
    assert any(e.phase == pb.ROUND_PHASE_EXPLORE and e.total > 0 for e in events)
    # Evaluation episodes (the base evaluation, round -1, and each round's) say EVALUATE.
    evaluating = {e.round for e in events if e.phase == pb.ROUND_PHASE_EVALUATE and e.total > 0}
    assert -1 in evaluating and 0 in evaluating
    assert not any(e.phase == pb.ROUND_PHASE_UNSPECIFIED for e in events)
    got = await stub.GetExperiment(pb.GetExperimentRequest(experiment_id=exp.experiment_id))
    assert got.state == pb.EXPERIMENT_STATE_SUCCEEDED
    rounds = await stub.ListRounds(pb.ListRoundsRequest(experiment_id=exp.experiment_id))
    assert len(rounds.rounds) == 1 and rounds.rounds[0].phase == pb.ROUND_PHASE_DONE
    assert rounds.rounds[0].attempt_total == 4 and rounds.rounds[0].adapter == "e1-round-0"
    listed = await stub.ListExperiments(pb.ListExperimentsRequest())
    assert [e.spec.name for e in listed.experiments] == ["e1"]


async def _code(coro):
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


async def test_errors(stub):
    code, details = await _code(stub.CreateExperiment(pb.CreateExperimentRequest(spec=spec())))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "request_id" in details
    bad = pb.ExperimentSpec(
        name="bad name!", train_split="x", eval_split="x", explore_probability=[2.0]
    )
    code, details = await _code(
        stub.CreateExperiment(pb.CreateExperimentRequest(request_id="r", spec=bad))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in details and "explore_probability" in details and "held-out" in details
    code, _ = await _code(stub.GetExperiment(pb.GetExperimentRequest(experiment_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.ListRounds(pb.ListRoundsRequest(experiment_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.CancelExperiment(pb.CancelExperimentRequest(experiment_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    await stub.CreateExperiment(pb.CreateExperimentRequest(request_id="a", spec=spec("dup")))
    code, details = await _code(
        stub.CreateExperiment(
            pb.CreateExperimentRequest(request_id="b", spec=spec("dup", max_steps=3))
        )
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS and "dup" in details
    code, details = await _code(
        stub.CreateExperiment(pb.CreateExperimentRequest(request_id="s", spec=spec(selector=99)))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "selector 99 is not a Selector" in details
    code, details = await _code(stub.ListExperiments(pb.ListExperimentsRequest(page_size=-1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "page_size must be >= 0" in details
    code, details = await _code(
        stub.ListExperiments(pb.ListExperimentsRequest(page_token="not-a-token"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token 'not-a-token' is not one this server returned" in details
    code, details = await _code(
        stub.GetExperiment(pb.GetExperimentRequest(experiment_id="x" * 2_000_000), timeout=30)
    )
    assert code == grpc.StatusCode.NOT_FOUND and "(2000000 characters)" in details
    assert len(details) < 300  # a huge id is quoted short, not echoed
    bomb = "a: &a [x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    code, details = await _code(
        stub.CreateExperiment(
            pb.CreateExperimentRequest(request_id="y", spec=spec("y", config_yaml=bomb))
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "YAML aliases" in details


async def wait_final(stub, experiment_id: str) -> pb.Experiment:
    events = stub.WatchExperiment(pb.WatchExperimentRequest(experiment_id=experiment_id))
    async for _ in events:
        pass
    return await stub.GetExperiment(pb.GetExperimentRequest(experiment_id=experiment_id))


async def test_resume_a_failed_experiment_where_it_stopped(stub):
    stub.services.trainer.fail = True
    exp = await stub.CreateExperiment(pb.CreateExperimentRequest(request_id="f", spec=spec("f")))
    failed = await wait_final(stub, exp.experiment_id)
    assert failed.state == pb.EXPERIMENT_STATE_FAILED
    assert failed.current_phase == pb.ROUND_PHASE_TRAIN
    assert "simulated trainer crash" in failed.error_message
    env = stub.services.env
    creates = env.creates
    stub.services.trainer.fail = False
    got = await stub.ResumeExperiment(pb.ResumeExperimentRequest(experiment_id="f"))  # by name
    assert got.state == pb.EXPERIMENT_STATE_RUNNING and got.error_message == ""
    done = await wait_final(stub, exp.experiment_id)
    assert done.state == pb.EXPERIMENT_STATE_SUCCEEDED
    # Resumed at training: only the 2 evaluation episodes ran again, nothing was redone.
    assert env.creates - creates == 2
    code, details = await _code(
        stub.ResumeExperiment(pb.ResumeExperimentRequest(experiment_id="f"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "already succeeded" in details
    code, _ = await _code(stub.ResumeExperiment(pb.ResumeExperimentRequest(experiment_id="no")))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_cancel(stub):
    # The env holds the first step until the test lets it go (never): the cancel lands while
    # the experiment is certainly running, however slow or fast the machine is.
    env = stub.services.env
    stepping, release = asyncio.Event(), asyncio.Event()
    step = env.step

    async def held_step(session_id: str, action: str):
        stepping.set()
        await release.wait()
        return await step(session_id, action)

    env.step = held_step
    exp = await stub.CreateExperiment(
        pb.CreateExperimentRequest(request_id="c", spec=spec("c", rounds=3))
    )
    await asyncio.wait_for(stepping.wait(), timeout=30)
    got = await stub.CancelExperiment(pb.CancelExperimentRequest(experiment_id=exp.experiment_id))
    assert got.state == pb.EXPERIMENT_STATE_CANCELLED
    # Stopped in the base evaluation, where the held step was: no round started.
    assert got.current_round == 0 and got.current_phase == pb.ROUND_PHASE_ATTEMPT
    rounds = await stub.ListRounds(pb.ListRoundsRequest(experiment_id=exp.experiment_id))
    assert list(rounds.rounds) == []


async def test_list_experiments_a_page_at_a_time(stub):
    async def create(name: str) -> None:
        exp = await stub.CreateExperiment(
            pb.CreateExperimentRequest(request_id=name, spec=spec(name))
        )
        # Listing reads the store: the experiments need not run.
        await stub.CancelExperiment(pb.CancelExperimentRequest(experiment_id=exp.experiment_id))

    for n in range(5):
        await create(f"p{n}")
    first = await stub.ListExperiments(pb.ListExperimentsRequest(page_size=2))
    assert [e.spec.name for e in first.experiments] == ["p4", "p3"] and first.next_page_token
    await create("p5")  # newer than the walk: it does not shift the pages after the first
    pages, token = [], first.next_page_token
    while token:
        page = await stub.ListExperiments(pb.ListExperimentsRequest(page_size=2, page_token=token))
        pages.append([e.spec.name for e in page.experiments])
        token = page.next_page_token
    assert pages == [["p2", "p1"], ["p0"]]
    everything = await stub.ListExperiments(pb.ListExperimentsRequest())  # 0 = 50 a page
    assert [e.spec.name for e in everything.experiments] == ["p5", "p4", "p3", "p2", "p1", "p0"]
    assert everything.next_page_token == ""


def test_every_selector_of_the_proto_maps_to_the_config():
    chosen = {
        pb.Selector.Name(value): config_from_spec(pb.ExperimentSpec(selector=value)).selector
        for value in pb.Selector.values()
    }
    assert chosen == {
        "SELECTOR_UNSPECIFIED": "env",
        "SELECTOR_ENV": "env",
        "SELECTOR_CRITIC": "critic",
        "SELECTOR_HYBRID": "hybrid",
        "SELECTOR_ORACLE": "oracle",
        "SELECTOR_RANDOM": "random",
    }
    assert set(chosen.values()) == set(SELECTORS)
