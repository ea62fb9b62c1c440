"""The env service as a real process (`python -m a3t_env`) on free loopback ports: health, real
games won by their walkthroughs, /metrics after the episodes, graceful SIGTERM, bad config."""

import asyncio
import json
import subprocess
import sys
import urllib.request

import pytest

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import TASK_TYPES, discover_games
from a3t.procs import start_service
from a3t.rpc.client import call, channel

SPLIT = "valid_seen"


async def play(stub, game, split=SPLIT):
    walkthrough = json.loads(game.path.read_text())["walkthrough"]
    start = await call(
        stub.CreateSession,
        env_pb2.CreateSessionRequest(env="alfworld", split=split, task_id=game.task_id),
        timeout=120,
    )
    for action in walkthrough:
        step = await call(
            stub.Step, env_pb2.StepRequest(session_id=start.session_id, action=action), attempts=1
        )
    await call(stub.CloseSession, env_pb2.CloseSessionRequest(session_id=start.session_id))
    return step.won, len(walkthrough)


async def run_games(alfworld_data, tmp_path, games, workers, concurrency):
    proc = start_service(
        "env",
        ["--env-data-roots", f"alfworld={alfworld_data}", "--workers", str(workers)],
        log_dir=tmp_path,
    )
    try:
        await proc.wait_ready(timeout=120)
        async with channel(proc.target) as chan:
            stub = env_pb2_grpc.EnvServiceStub(chan)
            sem = asyncio.Semaphore(concurrency)

            async def one(game):
                async with sem:
                    return await play(stub, game)

            results = await asyncio.gather(*(one(g) for g in games))
        url = f"http://127.0.0.1:{proc.metrics_port}/metrics"
        metrics = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        code = proc.stop()
    return results, metrics, code, proc


async def test_env_process_plays_real_games(alfworld_data, tmp_path):
    games = discover_games(alfworld_data, SPLIT)
    sample = [next(g for g in games if g.task_type == t) for t in TASK_TYPES[:3]]
    results, metrics, code, proc = await run_games(alfworld_data, tmp_path, sample, 1, 2)
    assert all(won for won, _ in results)
    steps = sum(n for _, n in results)
    assert f'a3t_env_steps_total{{env="alfworld"}} {float(steps)}' in metrics
    assert 'a3t_env_sessions_open{env="alfworld"} 0.0' in metrics
    assert 'a3t_env_step_duration_seconds_count{env="alfworld"}' in metrics
    assert 'a3t_env_rpc_requests_total{code="OK",method="Step"}' in metrics
    for game in sample:
        assert (
            f'a3t_env_episodes_total{{env="alfworld",outcome="won",task_type="{game.task_type}"}}'
            in metrics
        )
    assert code == 0, proc.log_tail()  # SIGTERM is a clean stop
    assert "stopped" in proc.log_tail()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~9 CPU-minutes of engine work
async def test_all_valid_seen_games_won_through_the_service(alfworld_data, tmp_path):
    games = discover_games(alfworld_data, SPLIT)
    assert len(games) == 140
    results, _metrics, code, proc = await run_games(alfworld_data, tmp_path, games, 2, 4)
    lost = [g.task_id for g, (won, _) in zip(games, results, strict=True) if not won]
    assert lost == []
    assert code == 0, proc.log_tail()


def test_bad_config_exits_with_every_problem(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "a3t_env", "--workers", "-1", "--max-steps", "zero"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "workers must be >= 0" in out.stderr
    assert "--max-steps: " in out.stderr


async def test_missing_data_root_fails_at_first_listing_with_a_clear_error(tmp_path):
    proc = start_service(
        "env", ["--data-root", str(tmp_path / "none"), "--workers", "0"], log_dir=tmp_path
    )
    try:
        await proc.wait_ready(timeout=60)
        async with channel(proc.target) as chan:
            stub = env_pb2_grpc.EnvServiceStub(chan)
            with pytest.raises(Exception) as info:
                await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="train"))
            assert "alfworld-download" in info.value.details()
    finally:
        assert proc.stop() == 0
