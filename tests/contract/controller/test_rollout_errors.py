"""The controller's gRPC clients tell a refused rollout from a broken service: a model service
that refuses one rollout's request (INVALID_ARGUMENT: the prompt cannot be fitted; INTERNAL: an
engine error on this input) raises `RolloutFailed`, which the round loop retries and then drops;
a refusal about the setup (FAILED_PRECONDITION) fails the experiment with a message that names
the service and its address."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from a3t.actre.v1 import actre_pb2_grpc
from a3t.env.v1 import env_pb2_grpc
from a3t.policy.v1 import policy_pb2_grpc
from a3t.rpc.client import channel
from a3t.trajectory import Task
from a3t_controller.clients import GrpcActRe, GrpcEnv, GrpcPolicy
from a3t_controller.config import ExperimentConfig
from a3t_controller.episode import RolloutFailed
from a3t_controller.patience import Patience, ServiceFailed
from a3t_controller.ports import Services
from a3t_controller.rounds import RoundRunner
from a3t_controller.store import Store
from tests.unit.controller.fakes import FakeActRe, FakePolicy, FakeTrainer

TASK = Task("alfworld", "t1", "train", "pick")


class Refusing(
    policy_pb2_grpc.PolicyServiceServicer,
    actre_pb2_grpc.ActReServiceServicer,
    env_pb2_grpc.EnvServiceServicer,
):
    """Answers every Act, Explain and ListTasks with the status it is given."""

    def __init__(self):
        self.code = grpc.StatusCode.INVALID_ARGUMENT

    async def Act(self, request, context):
        await context.abort(self.code, "prompt of 9000 tokens does not fit the context (2048)")

    async def Explain(self, request, context):
        await context.abort(self.code, "engine error")

    async def ListTasks(self, request, context):
        await context.abort(self.code, "alfworld's data root /data/alfworld is not readable")


@pytest.fixture
async def refusing():
    servicer = Refusing()
    server = aio.server()
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(servicer, server)
    actre_pb2_grpc.add_ActReServiceServicer_to_server(servicer, server)
    env_pb2_grpc.add_EnvServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with channel(f"127.0.0.1:{port}") as chan:
        servicer.target = f"127.0.0.1:{port}"
        yield servicer, chan
    await server.stop(None)


async def act(chan) -> None:
    policy = GrpcPolicy(chan, patience=Patience(seconds=0))
    await policy.act("e1", TASK, "obs", [], ["look"], temperature=0.0, seed=1, adapter="")


async def explain(chan) -> None:
    await GrpcActRe(chan, patience=Patience(seconds=0)).explain("e1", TASK, "obs", [], "look")


@pytest.mark.parametrize("call", [act, explain])
@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN]
)
async def test_a_refused_rollout_request_is_a_rollout_failure_naming_the_service(
    refusing, call, code
):
    servicer, chan = refusing
    servicer.code = code
    with pytest.raises(RolloutFailed, match=rf"^(policy|actre): {code.name}: "):
        await call(chan)


@pytest.mark.parametrize("call", [act, explain])
async def test_a_refusal_about_the_setup_is_not_a_rollout_failure(refusing, call):
    servicer, chan = refusing
    servicer.code = grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(ServiceFailed, match=r"^the (policy|actre) service answered FAILED_PRE"):
        await call(chan)


async def test_a_failed_experiment_names_the_service_and_its_address(refusing, tmp_path):
    servicer, chan = refusing
    servicer.code = grpc.StatusCode.FAILED_PRECONDITION
    env = GrpcEnv(chan, Patience(seconds=0, targets={"env": servicer.target}))
    policy = FakePolicy()
    services = Services(env, env, policy, policy, FakeActRe(), None, FakeTrainer())
    store = Store(tmp_path / "a3t.sqlite")
    config = ExperimentConfig(name="t", train_split="train", eval_split="eval")
    exp = store.create_experiment("t", "req-1", config.to_dict())
    with pytest.raises(ServiceFailed):
        await RoundRunner(store, services, tmp_path / "artifacts").run(exp.experiment_id)
    row = store.experiment(exp.experiment_id)
    assert row.state == "failed"
    assert row.error_message.startswith(
        f"the env service at {servicer.target} answered FAILED_PRECONDITION: "
        '"alfworld\'s data root /data/alfworld is not readable" (its log has the details'
    )
