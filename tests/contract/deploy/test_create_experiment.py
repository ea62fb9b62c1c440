"""The chart's experiment Job script (deploy/helm/a3t/files/create_experiment.py) against gRPC
servers on loopback that speak the real env and controller contracts (generated stubs). The
controller side parses the request with the controller's own `config_from_spec`, so the chart's
default experiment is checked the way the controller would check it."""

from __future__ import annotations

import functools
import importlib.util
import threading
from concurrent import futures
from pathlib import Path
from types import ModuleType

import grpc
import pytest
import yaml

from a3t.controller.v1 import controller_pb2, controller_pb2_grpc
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.errors import A3tError
from tests.conftest import REPO_ROOT

CHART = REPO_ROOT / "deploy" / "helm" / "a3t"
SCRIPT = CHART / "files" / "create_experiment.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("create_experiment", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeEnv(env_pb2_grpc.EnvServiceServicer):
    def __init__(self) -> None:
        self.requests: list[env_pb2.GenerateTasksRequest] = []

    def GenerateTasks(self, request, context):
        self.requests.append(request)
        return env_pb2.GenerateTasksResponse(split=request.split, total_size=request.count)


class FakeController(controller_pb2_grpc.ControllerServiceServicer):
    """Parses the spec like the real servicer; idempotent per request id; can be UNAVAILABLE
    for the first `unavailable` calls (a controller still starting)."""

    def __init__(self, unavailable: int = 0) -> None:
        self.requests: list[controller_pb2.CreateExperimentRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.unavailable = unavailable
        self.created: dict[str, controller_pb2.Experiment] = {}
        self.lock = threading.Lock()

    def CreateExperiment(self, request, context):
        from a3t_controller.server import config_from_spec

        with self.lock:
            self.requests.append(request)
            self.metadata.append(dict(context.invocation_metadata()))
            if self.unavailable:
                self.unavailable -= 1
                context.abort(grpc.StatusCode.UNAVAILABLE, "starting")
            try:
                config = config_from_spec(request.spec)
            except A3tError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            if request.request_id not in self.created:
                self.created[request.request_id] = controller_pb2.Experiment(
                    experiment_id=f"exp-{len(self.created)}",
                    request_id=request.request_id,
                    spec=controller_pb2.ExperimentSpec(name=config.name),
                    state=controller_pb2.EXPERIMENT_STATE_RUNNING,
                )
            return self.created[request.request_id]


@pytest.fixture
def servers():
    env, controller = FakeEnv(), FakeController()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    env_pb2_grpc.add_EnvServiceServicer_to_server(env, server)
    controller_pb2_grpc.add_ControllerServiceServicer_to_server(controller, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield env, controller, f"127.0.0.1:{port}"
    server.stop(0)


@pytest.fixture
def chart_files(tmp_path: Path) -> tuple[Path, Path]:
    """experiment.yaml and generate.yaml as the chart's ConfigMap holds them by default."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())["experiment"]
    config, generate = tmp_path / "experiment.yaml", tmp_path / "generate.yaml"
    config.write_text(yaml.safe_dump(values["config"]))
    generate.write_text(yaml.safe_dump(values["generate"]))
    return config, generate


def test_generates_the_splits_then_creates_the_experiment_once(servers, chart_files) -> None:
    env, controller, target = servers
    config, generate = chart_files
    script = load_script()
    argv = ["--config", str(config), "--generate", str(generate)]
    argv += ["--controller", target, "--env-target", target, "--request-id", "abc123"]

    assert script.main(argv) == 0
    assert script.main(argv) == 0  # a Job retry: same experiment, nothing new

    expected = yaml.safe_load(generate.read_text())
    got = [
        {"split": r.split, "level": r.level, "seed": r.seed, "count": r.count} for r in env.requests
    ]
    assert got == expected + expected
    assert {r.env for r in env.requests} == {"alfworld"}
    assert [r.request_id for r in controller.requests] == ["abc123", "abc123"]
    assert controller.requests[0].spec.config_yaml == config.read_text()
    assert list(controller.created) == ["abc123"]
    assert controller.created["abc123"].spec.name == "a3t"


def test_default_request_id_follows_the_files(servers, chart_files, tmp_path) -> None:
    _env, controller, target = servers
    config, _generate = chart_files
    script = load_script()
    assert script.main(["--config", str(config), "--controller", target]) == 0
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace("name: a3t", "name: b"))
    assert script.main(["--config", str(other), "--controller", target]) == 0
    ids = [r.request_id for r in controller.requests]
    assert len(ids) == 2 and ids[0] != ids[1] and all(len(i) == 32 for i in ids)


def test_waits_for_a_controller_that_is_still_starting(
    servers, chart_files, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env, controller, target = servers
    controller.unavailable = 2
    config, _generate = chart_files
    script = load_script()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(
        script, "call_until_served", functools.partial(script.call_until_served, sleep=sleep)
    )
    assert script.main(["--config", str(config), "--controller", target]) == 0
    assert len(controller.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_sends_the_shared_token_when_one_is_configured(
    servers, chart_files, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env, controller, target = servers
    config, _generate = chart_files
    token = tmp_path / "token"
    token.write_text("t-123\n")
    monkeypatch.setenv("A3T_AUTH_TOKEN_FILE", str(token))
    assert load_script().main(["--config", str(config), "--controller", target]) == 0
    assert controller.metadata[0]["authorization"] == "Bearer t-123"
    monkeypatch.setenv("A3T_AUTH_TOKEN_FILE", str(tmp_path / "missing"))
    assert load_script().main(["--config", str(config), "--controller", target]) == 1
    assert len(controller.requests) == 1  # refused before any call


def test_a_refused_experiment_fails_the_job(servers, tmp_path) -> None:
    _env, controller, target = servers
    config = tmp_path / "experiment.yaml"
    config.write_text("name: bad\ntrain_split: s\neval_split: s\n")  # train == eval: refused
    script = load_script()
    assert script.main(["--config", str(config), "--controller", target]) == 1
    assert len(controller.requests) == 1  # INVALID_ARGUMENT is not retried
    assert controller.created == {}


def test_malformed_generate_file_fails_before_any_call(servers, chart_files, tmp_path) -> None:
    env, controller, target = servers
    config, _generate = chart_files
    generate = tmp_path / "generate.yaml"
    generate.write_text("- split: s\n  level: 1\n")
    script = load_script()
    argv = ["--config", str(config), "--generate", str(generate)]
    argv += ["--controller", target, "--env-target", target]
    assert script.main(argv) == 1
    assert env.requests == [] and controller.requests == []
