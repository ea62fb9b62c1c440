"""The env service's RPCs with generated requests, through the real servicer (EnvServicer +
EnvCore + a GamePool with one worker process) on a loopback port, serving a generated ALFWorld
split, a generated WebShop split and API-Bank's release at once: every answer is OK or a
documented client error, never INTERNAL / UNKNOWN, within a few seconds, and an episode fed
generated action text still answers after.
"""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs import env_spec
from a3t_env.config import EnvSettings
from tests.conftest import SHARED_DATA
from tests.contract.env.server import serving_env
from tests.property.loopback import answer
from tests.property.strategies import hostile_text, messages

OK = grpc.StatusCode.OK
# env -> (split, an action that is valid text there). API-Bank's split is its release's.
SPLITS = {"alfworld": "gen", "webshop": "shop", "apibank": "level-1"}
BENIGN = {"alfworld": "look", "webshop": "search[shoes]", "apibank": "[ToolSearcher(keywords='x')]"}
ENVS = st.sampled_from(sorted(SPLITS))


@pytest.fixture(scope="module")
def env_stub(loop, tmp_path_factory):
    api_bank = SHARED_DATA / "api-bank"
    if not (api_bank / "test-data").is_dir():  # an error, not a skip (tests/conftest.py)
        raise FileNotFoundError(f"API-Bank's release not found at {api_bank}")
    settings = EnvSettings(
        data_root=tmp_path_factory.mktemp("envs"),
        env_data_roots=(f"apibank={api_bank}",),
        workers=1,
        max_sessions=32,
    )
    serving = serving_env(settings, cache_size=4)
    _, running = loop.enter(serving)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        for env, seed in (("alfworld", 7), ("webshop", 3)):
            request = env_pb2.GenerateTasksRequest(
                env=env, split=SPLITS[env], level=1, seed=seed, count=2
            )
            stub.GenerateTasks(request, timeout=120)
        yield stub
    loop.exit(serving)


class Episode:
    """One open session per env, reopened whenever its episode ends."""

    def __init__(self, stub, env: str):
        self.stub, self.env, self.session_id = stub, env, ""

    def open(self) -> None:
        request = env_pb2.CreateSessionRequest(env=self.env, split=SPLITS[self.env], index=0)
        self.session_id = self.stub.CreateSession(request, timeout=60).session_id

    def step(self, action: str) -> tuple[grpc.StatusCode, env_pb2.StepResponse | None, str]:
        if not self.session_id:
            self.open()
        code, response, details = answer(
            self.stub.Step, env_pb2.StepRequest(session_id=self.session_id, action=action)
        )
        if code == OK and response.done:
            closed = self.stub.CloseSession(
                env_pb2.CloseSessionRequest(session_id=self.session_id), timeout=10
            )
            assert closed.steps_taken == response.step_index
            self.session_id = ""
        return code, response, details


def _actions(env: str) -> st.SearchStrategy[str]:
    spec = env_spec(env)
    flavoured = {
        "alfworld": st.sampled_from(["go to ", "take ", "put ", "open ", "look", "examine "]),
        "webshop": st.sampled_from(["search[", "click[", "click[Buy Now]", "]", "[["]),
        "apibank": st.sampled_from(["[", "API-Request: [", "QueryStock(", "stock_code=", ")]"]),
    }[env]
    return st.one_of(
        hostile_text(),
        st.lists(st.one_of(flavoured, hostile_text(12)), max_size=6).map("".join),
        st.just("a" * (spec.max_action_chars + 1)),
    )


@pytest.mark.parametrize("env", sorted(SPLITS))
def test_step_with_generated_action_text(env_stub, env, request):
    episodes = request.node.stash.setdefault(_EPISODES, {})
    episode = episodes.setdefault(env, Episode(env_stub, env))
    limit = env_spec(env).max_action_chars

    @given(action=_actions(env))
    def check(action):
        code, response, details = episode.step(action)
        text = action.strip()
        if not text:
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "must not be empty" in details
        elif len(text) > limit:
            assert code == grpc.StatusCode.INVALID_ARGUMENT and f"({limit}," in details
        else:
            assert code == OK, details
            assert response.observation and response.step_index >= 1
        # The episode still answers a plain action (in a new episode when that one ended).
        code, response, details = episode.step(BENIGN[env])
        assert code == OK and response.observation, details

    check()


_EPISODES = pytest.StashKey[dict]()

# --- every RPC, every field generated

_VALID = {
    "env": ENVS,
    "split": st.one_of(
        st.sampled_from(sorted(SPLITS.values())), st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True)
    ),
    "index": st.integers(-1, 2),
    "page_size": st.integers(-1, 3),
    "level": st.integers(0, 5),
    "request_id": st.uuids().map(str),
}


def _requests(cls):
    """Generated requests, half of them with the split their env serves (fields drawn one by
    one seldom pair an env with its own split, and such requests are the ones that reach the
    game engines)."""

    def pair(request, env):
        request.env, request.split = env, SPLITS[env]
        return request

    generated = messages(cls, _VALID)
    return st.one_of(generated, st.builds(pair, generated, ENVS))


@given(request=_requests(env_pb2.ListTasksRequest))
def test_list_tasks_fields(env_stub, request):
    code, response, _ = answer(env_stub.ListTasks, request)
    if code == OK:
        assert response.total_size >= len(response.tasks)


# Sessions this module's create test has closed. Hypothesis draws the same request_id more than
# once, and a create repeated with a request_id answers the first create's session again (the
# idempotent retry), which was closed already: closing it twice is the test's error, not the
# service's (the CI failure of 2026-12-03).
_CLOSED: set[str] = set()


@given(request=_requests(env_pb2.CreateSessionRequest))
def test_create_session_fields(env_stub, request):
    code, response, _ = answer(env_stub.CreateSession, request)
    if code == OK:  # every session opened here is closed again: the limit is 32
        assert response.session_id and response.observation
        if response.session_id in _CLOSED:
            assert request.request_id, "a new session id for every create without a request_id"
            return
        env_stub.CloseSession(
            env_pb2.CloseSessionRequest(session_id=response.session_id), timeout=10
        )
        _CLOSED.add(response.session_id)


@given(request=messages(env_pb2.StepRequest), close=messages(env_pb2.CloseSessionRequest))
def test_step_and_close_with_unknown_sessions(env_stub, request, close):
    # Generated ids are never server-made UUIDs: NOT_FOUND, or INVALID_ARGUMENT for the action.
    code, _, _ = answer(env_stub.Step, request)
    assert code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    code, _, _ = answer(env_stub.CloseSession, close)
    assert code == grpc.StatusCode.NOT_FOUND


def _small(request: env_pb2.GenerateTasksRequest) -> env_pb2.GenerateTasksRequest:
    # A valid large count is slow work, not bad input: keep valid ones to 2 games.
    if 2 < request.count <= 10_000:
        request.count = 2
    return request


@given(request=_requests(env_pb2.GenerateTasksRequest).map(_small))
def test_generate_tasks_fields(env_stub, request):
    code, response, _ = answer(env_stub.GenerateTasks, request)
    if code == OK:
        assert response.total_size == request.count and response.split == request.split
