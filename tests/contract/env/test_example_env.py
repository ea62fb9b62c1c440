"""A user's own environment plugs in with one folder and one registry line (docs/environments.md).

The example plugin (tests/example_env, a number line) is registered the way a real one is, then
played through the real env servicer on a loopback port and run through one controller round
(RoundRunner over gRPC to that env; policy, ActRe and trainer are fakes that record what the
env's prompting made of the episode). The last test checks which modules the plugin needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grpc
import pytest
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs import ENVIRONMENTS
from a3t.prompts import actre_messages, policy_messages
from a3t.trajectory import TokenUsage
from a3t_controller.clients import GrpcEnv
from a3t_controller.config import ExperimentConfig
from a3t_controller.ports import PolicyAnswer, Services
from a3t_controller.rounds import RoundRunner
from a3t_controller.store import Store
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env
from tests.example_env import SPEC
from tests.unit.controller.fakes import FakeActRe, FakeTrainer

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "example_env"


@pytest.fixture
async def env_channel(monkeypatch, tmp_path):
    monkeypatch.setitem(ENVIRONMENTS, "numberline", SPEC)  # the one registry line
    settings = EnvSettings(envs=("numberline",), data_root=tmp_path, workers=0)
    assert settings.problems() == []
    # workers=0 plays in this process, where the registry line above holds.
    async with serving_env(settings) as (chan, _):
        yield chan


async def _code(coro) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


async def test_the_example_env_plays_through_the_service(env_channel):
    stub = env_pb2_grpc.EnvServiceStub(env_channel)
    listed = await stub.ListTasks(env_pb2.ListTasksRequest(env="numberline", split="train"))
    assert [t.task_id for t in listed.tasks] == ["t+1", "t+2", "t+3", "t-1", "t-2", "t-3"]
    assert {t.task_type for t in listed.tasks} == {"left", "right"}
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="numberline", split="train", task_id="t+2")
    )
    assert start.task.instruction == "reach 2" and start.task.env == "numberline"
    assert list(start.admissible_actions) == ["look", "step left", "step right"]
    sid = start.session_id
    wrong = await stub.Step(env_pb2.StepRequest(session_id=sid, action="fly"))
    assert (wrong.observation, wrong.admissible, wrong.done) == ("Nothing happens.", False, False)
    await stub.Step(env_pb2.StepRequest(session_id=sid, action="step right"))
    last = await stub.Step(env_pb2.StepRequest(session_id=sid, action="step right"))
    assert (last.won, last.done, last.reward, last.step_index) == (True, True, 1.0, 3)
    assert last.observation == "You are at 2. You reached the target."

    # The env's own limits and errors, through the generic service.
    other = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="numberline", split="test", index=0)
    )
    code, details = await _code(
        stub.Step(env_pb2.StepRequest(session_id=other.session_id, action="x" * 33))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "numberline limit (32" in details
    code, details = await _code(
        stub.GenerateTasks(
            env_pb2.GenerateTasksRequest(env="numberline", split="g", level=1, seed=0, count=1)
        )
    )
    assert code == grpc.StatusCode.UNIMPLEMENTED and "no task generator" in details
    code, details = await _code(stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="x")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "serves numberline" in details


class PromptRecordingPolicy:
    """Builds the real policy prompt for each request and answers `look` (a base model that
    cannot act yet), so every win comes from exploration."""

    def __init__(self):
        self.prompts = []
        self.loaded = {}

    async def act(self, episode_id, task, initial_observation, history, admissible, **kw):
        self.prompts.append(policy_messages(task, initial_observation, history))
        return PolicyAnswer("I look around.", "look", "look", TokenUsage(5, 0, 2))

    async def end_episode(self, episode_id):
        pass

    async def load_adapter(self, name, uri):
        self.loaded[name] = uri


async def test_one_controller_round_on_the_example_env(env_channel, tmp_path):
    env = GrpcEnv(env_channel)
    policy, actre, trainer = PromptRecordingPolicy(), FakeActRe(), FakeTrainer()
    services = Services(
        env=env,
        tasks=env,
        policy=policy,
        policy_adapters=policy,
        actre=actre,
        actre_adapters=None,
        trainer=trainer,
        critic=None,
    )
    # The env's controller defaults apply unless the config sets them.
    config = ExperimentConfig.from_dict(
        {
            "name": "nl",
            "env": "numberline",
            "train_split": "train",
            "eval_split": "test",
            "rounds": 1,
            "explore_probability": [1.0],
        }
    )
    assert (config.max_steps, config.explore_attempts, config.explore_skip_verbs) == (
        8,
        6,
        ("look",),
    )
    store = Store(tmp_path / "a3t.sqlite")
    exp = store.create_experiment(config.name, "r1", config.to_dict())
    await RoundRunner(store, services, tmp_path / "artifacts").run(exp.experiment_id)

    assert store.experiment(exp.experiment_id).state == "succeeded"
    stats = store.round(exp.experiment_id, 0).stats
    assert stats.attempt_solved == 0 and stats.explore_failed_tasks == 6
    explored = store.trajectories(exp.experiment_id, 0, "explore")
    assert stats.explore_solved >= 4
    # Adaptive exploration: each task until its 5th win (max_positives_per_task) or K = 6.
    runs: dict[str, list[bool]] = {}
    for t in explored:  # by task, then attempt
        runs.setdefault(t.task_id, []).append(t.won)
    assert len(runs) == 6
    assert all(len(w) == 6 or (sum(w) == 5 and w[-1]) for w in runs.values())
    # Exploration sampled only moves (look is the env's skipped verb) and ActRe explained the
    # kept wins with the env's own prompt.
    actions = {s.action for t in explored for s in t.trajectory.steps}
    assert actions == {"step left", "step right"}
    assert actre.calls > 0 and len(trainer.requests) == 1
    kept = [t for t in explored if t.won]
    ask = actre_messages(kept[0].trajectory.task, kept[0].trajectory.initial_observation, [], "x")
    assert ask[0].content == SPEC.prompts.actre_system
    # The policy saw the env's system prompt and its 1-shot exemplar.
    first = policy.prompts[0]
    assert first[0].content == SPEC.prompts.policy_system
    assert first[1].content == SPEC.prompts.examples[""].observation
    assert store.evaluation(exp.experiment_id, 0).n_tasks == 2


def test_the_plugin_imports_nothing_of_the_services():
    """What the example needed: its own folder and the plugin base (a3t.envs.base, a3t.errors);
    no module of the env core, the pool, the controller or the policy/ActRe services."""
    imported = set()
    for path in EXAMPLE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {m for m in imported if m.startswith("a3t")} == {"a3t.envs.base", "a3t.errors"}
    assert not {m for m in imported if m.startswith(("a3t_", "tests."))}
