"""The policy, ActRe and critic services as real processes (`python -m a3t_<name>`) on free
loopback ports with the tiny model: health SERVING, one RPC each, /metrics, graceful SIGTERM;
and the exits for a bad config (2) and a model that cannot load (1)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import urllib.request

import pytest

from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
from a3t.common.v1 import types_pb2 as pb
from a3t.convert import step_to_pb, task_to_pb, trajectory_to_pb
from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import discover_games
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.procs import start_service
from a3t.rpc.client import call, channel
from a3t.trajectory import Step, Task, Trajectory

TASK = Task(env="alfworld", task_id="t1", task_type="pick_and_place_simple")
OBS = "You are in the middle of a room. Your task is to: put some pen on desk."
PARAMS = pb.GenerationParams(max_new_tokens=8)


async def one_rpc(name: str, target: str) -> str:
    """Calls the service's main RPC once; returns the RPC's method name for the metrics check."""
    async with channel(target) as chan:
        if name == "policy":
            stub = policy_pb2_grpc.PolicyServiceStub(chan)
            request = policy_pb2.ActRequest(
                task=task_to_pb(TASK), initial_observation=OBS, params=PARAMS, episode_id="e"
            )
            resp = await call(stub.Act, request, timeout=120)
            assert resp.action and resp.usage.completion_tokens >= 1
            return "Act"
        if name == "actre":
            stub = actre_pb2_grpc.ActReServiceStub(chan)
            request = actre_pb2.ExplainRequest(
                task=task_to_pb(TASK), initial_observation=OBS, action="look", params=PARAMS
            )
            resp = await call(stub.Explain, request, timeout=120)
            assert resp.raw_text and resp.usage.completion_tokens >= 1
            return "Explain"
        stub = critic_pb2_grpc.CriticServiceStub(chan)
        traj = Trajectory(TASK, OBS, (Step(action="look", observation="Nothing happens."),))
        request = critic_pb2.ScoreRequest(trajectory=trajectory_to_pb(traj), params=PARAMS)
        resp = await call(stub.Score, request, timeout=120)
        # the random model writes no JSON: reported as such, never as a score
        assert resp.status == critic_pb2.SCORE_STATUS_UNPARSEABLE and not resp.HasField("score")
        return "Score"


async def test_model_services_serve_and_stop_cleanly(tiny_model_dir, tmp_path) -> None:
    args = ["--model", str(tiny_model_dir), "--threads", "1"]
    procs = {
        name: start_service(name, args, log_dir=tmp_path) for name in ("policy", "actre", "critic")
    }
    try:
        await asyncio.gather(*(p.wait_ready(timeout=180) for p in procs.values()))
        for name, proc in procs.items():
            method = await one_rpc(name, proc.target)
            url = f"http://127.0.0.1:{proc.metrics_port}/metrics"
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            assert f'a3t_{name}_rpc_requests_total{{code="OK",method="{method}"}} 1.0' in text
            assert f"a3t_{name}_completion_tokens_total" in text
    finally:
        codes = {name: proc.stop() for name, proc in procs.items()}
    for name, proc in procs.items():
        assert codes[name] == 0, proc.log_tail()  # SIGTERM is a clean stop
        log = proc.log_tail(200)
        assert f"{name} model ready: engine=local" in log and f"{name} stopped" in log


def test_bad_config_exits_2_with_every_problem() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "a3t_policy", "--engine", "tgi", "--max-new-tokens", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "endpoint must be the tgi server's" in out.stderr
    assert "max_new_tokens must be >= 1" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "a3t_critic", "--rubric", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "rubric must be one of" in out.stderr


async def test_a_model_that_cannot_load_exits_1(tmp_path) -> None:
    proc = start_service("actre", ["--model", str(tmp_path / "no-model")], log_dir=tmp_path)
    code = await asyncio.to_thread(proc.process.wait, 120)
    assert code == 1, proc.log_tail()
    assert "could not be loaded" in proc.log_tail()


@pytest.mark.slow
async def test_smollm2_takes_react_steps_on_a_real_game(alfworld_data, tmp_path) -> None:
    """SmolLM2 (the packaged default) acts through the policy service on a real ALFWorld game
    served by the env service, and ActRe (self-ActRe: the same model) explains a sampled action."""
    game = next(
        g for g in discover_games(alfworld_data, "valid_seen") if g.task_type == TASK.task_type
    )
    model = ["--model", "smollm2", "--threads", "1"]
    procs = {
        "env": start_service(
            "env",
            ["--env-data-roots", f"alfworld={alfworld_data}", "--workers", "1"],
            log_dir=tmp_path,
        ),
        "policy": start_service("policy", model, log_dir=tmp_path),
        "actre": start_service("actre", model, log_dir=tmp_path),
    }
    try:
        await asyncio.gather(*(p.wait_ready(timeout=300) for p in procs.values()))
        async with (
            channel(procs["env"].target) as env_chan,
            channel(procs["policy"].target) as policy_chan,
            channel(procs["actre"].target) as actre_chan,
        ):
            env = env_pb2_grpc.EnvServiceStub(env_chan)
            policy = policy_pb2_grpc.PolicyServiceStub(policy_chan)
            actre = actre_pb2_grpc.ActReServiceStub(actre_chan)
            start = await call(
                env.CreateSession,
                env_pb2.CreateSessionRequest(
                    env="alfworld", split="valid_seen", task_id=game.task_id
                ),
                timeout=120,
            )
            history: list[Step] = []
            admissible = list(start.admissible_actions)
            acts = []
            for _ in range(4):
                act = await call(
                    policy.Act,
                    policy_pb2.ActRequest(
                        episode_id="slow-1",
                        task=start.task,
                        initial_observation=start.observation,
                        history=[step_to_pb(s) for s in history],
                        admissible_actions=admissible,
                    ),
                    timeout=300,
                )
                # every answer is an action the env takes (an invalid one is a normal step)
                out = await call(
                    env.Step,
                    env_pb2.StepRequest(session_id=start.session_id, action=act.action),
                    attempts=1,
                )
                acts.append(act)
                history.append(
                    Step(action=act.action, thought=act.thought, observation=out.observation)
                )
                admissible = list(out.admissible_actions)
                if out.done:
                    break
            sampled = random.Random(0).choice(admissible)
            why = await call(
                actre.Explain,
                actre_pb2.ExplainRequest(
                    task=start.task,
                    initial_observation=start.observation,
                    history=[step_to_pb(s) for s in history],
                    action=sampled,
                ),
                timeout=300,
            )
    finally:
        codes = {name: proc.stop() for name, proc in procs.items()}
    assert all(code == 0 for code in codes.values()), codes
    assert all(a.action and len(a.action) <= 256 for a in acts)
    # SmolLM2 with our 1-shot exemplar writes ReAct steps: a thought and an action the env knows
    assert acts[0].thought and acts[0].action in start.admissible_actions, acts[0]
    # from the second step on, the episode's KV cache serves the prompt seen before
    assert all(a.usage.cached_prompt_tokens > 0 for a in acts[1:])
    assert why.rationale and not why.rationale.lower().startswith("think:"), why
