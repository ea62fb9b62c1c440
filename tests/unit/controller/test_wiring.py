"""build_services: the one wiring of `python -m a3t_controller` and `a3t run`: which clients exist,
that the policy's requests carry the grounding asked for, and that a silent service is waited
for on the store and named by its address."""

from __future__ import annotations

import asyncio

import pytest
from grpc import aio

from a3t.errors import FailedPrecondition, Unavailable
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.procs import free_port
from a3t.trajectory import Task
from a3t_controller.clients import GrpcActRe, GrpcCritic, GrpcEnv, GrpcPolicy, GrpcTrainer
from a3t_controller.config import ExperimentConfig
from a3t_controller.ports import TrainRequest
from a3t_controller.store import Store
from a3t_controller.wiring import NoTrainer, build_services

REQUIRED = {"env": "127.0.0.1:1", "policy": "127.0.0.1:2", "trainer": "127.0.0.1:3"}


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "a3t.sqlite")
    yield store
    store.close()


async def test_only_the_services_with_an_address_get_a_client(store):
    services = build_services(
        {**REQUIRED, "actre": "", "critic": ""}, store, 1.0, ground_actions=False
    )
    assert isinstance(services.env, GrpcEnv) and services.tasks is services.env
    assert isinstance(services.policy, GrpcPolicy)
    assert services.policy_adapters is services.policy.adapters
    assert isinstance(services.trainer, GrpcTrainer)
    assert (services.actre, services.actre_adapters, services.critic) == (None, None, None)

    services = build_services(
        {**REQUIRED, "actre": "127.0.0.1:4", "critic": "127.0.0.1:5"},
        store,
        1.0,
        ground_actions=False,
    )
    assert isinstance(services.actre, GrpcActRe)
    assert services.actre_adapters is services.actre.adapters
    assert isinstance(services.critic, GrpcCritic)


class RecordingPolicy(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self):
        self.grounded: list[bool] = []

    async def Act(self, request, context):
        self.grounded.append(request.ground_actions)
        return policy_pb2.ActResponse(thought="look first", action="look")


async def test_the_policy_is_asked_to_ground_actions_as_the_caller_says(store):
    recorder = RecordingPolicy()
    server = aio.server()
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(recorder, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        # The client's setting, then a request that says otherwise (an ungrounded evaluation).
        for ground, this_call in ((True, None), (False, None), (True, False), (False, True)):
            services = build_services(
                {**REQUIRED, "policy": f"127.0.0.1:{port}"}, store, 1.0, ground_actions=ground
            )
            answer = await services.policy.act(
                "e1",
                Task("alfworld", "t1"),
                "You are in a room.",
                [],
                ["look"],
                temperature=0.0,
                seed=0,
                adapter="",
                ground_actions=this_call,
            )
            assert answer.action == "look"
    finally:
        await server.stop(0)
    assert recorder.grounded == [True, False, False, True]


async def test_without_a_trainer_address_training_fails_naming_why(store):
    services = build_services(
        {"env": "127.0.0.1:1", "policy": "127.0.0.1:2"}, store, 1.0, ground_actions=True
    )
    assert isinstance(services.trainer, NoTrainer)
    request = TrainRequest(
        *("r1", "smollm2", "d.jsonl", "out", "a", 1, 0, 1, "", 1e-4, 4, 8, ("q_proj",)),
        *(False, False, 0),
    )
    with pytest.raises(FailedPrecondition, match="r1: no trainer service was started"):
        await services.trainer.train(request, lambda *_: None)


async def test_a_silent_service_is_shown_on_running_experiments_and_named_by_address(store):
    exp = store.create_experiment("e1", "r1", ExperimentConfig(name="e1").to_dict())
    store.set_experiment(exp.experiment_id, state="running")
    env = f"127.0.0.1:{free_port()}"  # nothing listens there: every call is UNAVAILABLE
    services = build_services({**REQUIRED, "env": env}, store, 0.5, ground_actions=False)
    listing = asyncio.create_task(services.tasks.list_tasks("alfworld", "train"))
    for _ in range(200):
        if store.experiment("e1").waiting_for:
            break
        await asyncio.sleep(0.01)
    assert store.experiment("e1").waiting_for.startswith("waiting for the env service (UNAVAILABLE")
    with pytest.raises(Unavailable, match=f"the env service at {env} did not answer"):
        await listing
    assert store.experiment("e1").waiting_for == ""  # cleared when the wait ends
