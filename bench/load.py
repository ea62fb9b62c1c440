"""Load: many concurrent episodes for a fixed time against one env service, and against the
policy service; 1 concurrent episode in the same run as the baseline.

    .venv/bin/python bench/load.py [--clients 64] [--seconds 60] [--skip-policy] [--write]

Env: a real env service process (2 game workers, default limits) on 16 generated level-1 games.
Each client plays episodes back to back: CreateSession (with a request id; a RESOURCE_EXHAUSTED
answer with a retry hint is waited out and counted as "busy"), random admissible actions until
the game ends or 15 steps, CloseSession. Reported: episodes, steps, p50/p99 of Step and of
CreateSession (the open includes loading the game and any busy wait), every error by code, the
RSS of the service and of each worker before and after, and the sessions still open after (from
the service's own gauge; must be 0). Then the max_sessions limit: a service with
--max-sessions 8 is sent a 9th open, whose answer and its time are reported.

Policy: a real policy service process (the packaged SmolLM2, local engine, 24 new tokens per
step). Each client plays 5-step episodes with a growing history (Act per step, EndEpisode at the
end). Reported: steps, p50/p99 of Act, errors by code, RSS before and after.

Loopback only, bounded in count and time. Run it alone on the machine. Results go to stdout and,
with --write, into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import grpc
import psutil
from grpc import aio
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docs_section import replace_section

from a3t.common.v1 import types_pb2
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.procs import ServiceProcess, start_service
from a3t.rpc.client import channel
from a3t.rpc.retry_info import retry_delay

SECTION = "## Load: 64 concurrent episodes against the env and the policy services"
SPLIT = "load"
MAX_STEPS = 15
POLICY_STEPS = 5


@dataclass
class LoadResult:
    clients: int
    seconds: float  # how long new episodes are started
    elapsed: float = 0.0  # until the last episode ended (each client finishes its episode)
    rss_after: dict[str, float] = field(default_factory=dict)
    episodes: int = 0
    steps: int = 0
    step_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)
    busy: int = 0  # RESOURCE_EXHAUSTED with a retry hint, waited out
    errors: Counter = field(default_factory=Counter)  # status code -> count


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mib(proc: ServiceProcess) -> dict[str, float]:
    """Resident memory of the service and each of its child processes (game workers, the
    multiprocessing resource tracker), in MiB."""
    root = psutil.Process(proc.process.pid)
    out = {"service": root.memory_info().rss / 2**20}
    workers = 0
    for child in sorted(root.children(recursive=True), key=lambda c: c.pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "resource_tracker" in " ".join(child.cmdline()):
                name = "tracker"
            else:
                name, workers = f"worker{workers}", workers + 1
            out[name] = child.memory_info().rss / 2**20
    return out


def gauge(proc: ServiceProcess, name: str) -> float:
    """Sum of a metric's samples on the service's metrics endpoint."""
    url = f"http://127.0.0.1:{proc.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


# --- env


async def env_client(stub, tasks: list[str], deadline: float, result: LoadResult, seed: int):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        request = env_pb2.CreateSessionRequest(
            env="alfworld", split=SPLIT, task_id=rng.choice(tasks), request_id=str(uuid.uuid4())
        )
        t0 = time.perf_counter()
        while True:
            try:
                session = await stub.CreateSession(request, timeout=300)
                break
            except aio.AioRpcError as exc:
                delay = retry_delay(exc)
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or delay is None:
                    result.errors[f"CreateSession {exc.code().name}"] += 1
                    session = None
                    break
                result.busy += 1
                await asyncio.sleep(delay)
        if session is None:
            continue
        result.open_s.append(time.perf_counter() - t0)
        admissible = list(session.admissible_actions)
        try:
            for _ in range(MAX_STEPS):
                t0 = time.perf_counter()
                resp = await stub.Step(
                    env_pb2.StepRequest(
                        session_id=session.session_id, action=rng.choice(admissible or ["look"])
                    ),
                    timeout=120,
                )
                result.step_s.append(time.perf_counter() - t0)
                result.steps += 1
                admissible = list(resp.admissible_actions)
                if resp.done:
                    break
            result.episodes += 1
        except aio.AioRpcError as exc:
            result.errors[f"Step {exc.code().name}"] += 1
        finally:
            try:
                await stub.CloseSession(
                    env_pb2.CloseSessionRequest(session_id=session.session_id), timeout=60
                )
            except aio.AioRpcError as exc:
                result.errors[f"CloseSession {exc.code().name}"] += 1


async def env_load(proc: ServiceProcess, tasks: list[str], clients: int, seconds: float):
    result = LoadResult(clients, seconds)
    async with channel(proc.target) as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        t0 = time.monotonic()
        await asyncio.gather(
            *(env_client(stub, tasks, t0 + seconds, result, seed) for seed in range(clients))
        )
        result.elapsed = time.monotonic() - t0
    result.rss_after = rss_mib(proc)
    return result


async def max_sessions_probe(root: Path, games: Path) -> dict:
    """A service limited to 8 sessions: the 9th open's answer and how long it took."""
    proc = start_service(
        "env",
        ["--data-root", str(games), "--workers", "1", "--max-sessions", "8"],
        log_dir=root / "logs-max",
    )
    try:
        await proc.wait_ready(120)
        async with channel(proc.target) as chan:
            stub = env_pb2_grpc.EnvServiceStub(chan)
            tasks = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split=SPLIT))
            ids = [t.task_id for t in tasks.tasks]
            opened = []
            for i in range(8):
                opened.append(
                    await stub.CreateSession(
                        env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id=ids[i]),
                        timeout=120,
                    )
                )
            t0 = time.perf_counter()
            try:
                await stub.CreateSession(
                    env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id=ids[8]),
                    timeout=120,
                )
                answer, message = "OK (limit not enforced)", ""
            except aio.AioRpcError as exc:
                answer, message = exc.code().name, exc.details()
            took = time.perf_counter() - t0
            for s in opened:
                await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=s.session_id))
        return {"answer": answer, "message": message, "seconds": took}
    finally:
        proc.stop()


async def run_env(root: Path, clients: int, seconds: float) -> dict:
    games = root / "games"
    proc = start_service(
        "env",
        ["--data-root", str(games), "--workers", "2", "--log-level", "WARNING"],
        log_dir=root / "logs-env",
    )
    try:
        await proc.wait_ready(120)
        async with channel(proc.target) as chan:
            stub = env_pb2_grpc.EnvServiceStub(chan)
            await stub.GenerateTasks(
                env_pb2.GenerateTasksRequest(env="alfworld", split=SPLIT, level=1, count=16),
                timeout=600,
            )
            listed = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split=SPLIT))
        tasks = [t.task_id for t in listed.tasks]
        before = rss_mib(proc)
        runs = []
        for n in (1, clients, clients):  # the loaded run twice: does memory keep growing?
            print(f"env: {n} concurrent episodes for {seconds:.0f} s ...", flush=True)
            runs.append(await env_load(proc, tasks, n, seconds))
        open_after = gauge(proc, "a3t_env_sessions_open")
        recycles = gauge(proc, "a3t_env_worker_recycles_total")
    finally:
        proc.stop()
    probe = await max_sessions_probe(root, games)
    return {
        "runs": runs,
        "before": before,
        "open_after": open_after,
        "recycles": recycles,
        "probe": probe,
    }


# --- policy


async def policy_client(stub, deadline: float, result: LoadResult, seed: int) -> None:
    rng = random.Random(seed)
    task = types_pb2.Task(
        env="alfworld", task_id=f"load-{seed}", split=SPLIT, task_type="pick_and_place_simple"
    )
    admissible = ["go to shelf 1", "go to desk 1", "open drawer 1", "take mug 1 from desk 1"]
    while time.monotonic() < deadline:
        episode = str(uuid.uuid4())
        history: list[types_pb2.Step] = []
        try:
            for _ in range(POLICY_STEPS):
                t0 = time.perf_counter()
                resp = await stub.Act(
                    policy_pb2.ActRequest(
                        episode_id=episode,
                        task=task,
                        initial_observation="You are in the middle of a room. Your task is to: "
                        "put a mug in shelf.",
                        history=history,
                        admissible_actions=admissible,
                        params=types_pb2.GenerationParams(
                            temperature=0.7, seed=rng.randrange(1, 2**31), max_new_tokens=24
                        ),
                    ),
                    timeout=600,
                )
                result.step_s.append(time.perf_counter() - t0)
                result.steps += 1
                history.append(
                    types_pb2.Step(
                        thought=resp.thought,
                        action=resp.action,
                        observation=f"You arrive at {rng.choice(admissible).split()[-2]}. "
                        "Nothing happens.",
                    )
                )
            result.episodes += 1
        except aio.AioRpcError as exc:
            result.errors[f"Act {exc.code().name}"] += 1
        finally:
            await stub.EndEpisode(policy_pb2.EndEpisodeRequest(episode_id=episode), timeout=60)


async def run_policy(root: Path, clients: int, seconds: float) -> dict:
    proc = start_service(
        "policy", ["--max-new-tokens", "24", "--log-level", "WARNING"], log_dir=root / "logs-pol"
    )
    try:
        await proc.wait_ready(600)
        before = rss_mib(proc)
        runs = []
        async with channel(proc.target) as chan:
            stub = policy_pb2_grpc.PolicyServiceStub(chan)
            for n in (1, clients, clients):  # the loaded run twice: does memory keep growing?
                print(f"policy: {n} concurrent episodes for {seconds:.0f} s ...", flush=True)
                result = LoadResult(n, seconds)
                t0 = time.monotonic()
                await asyncio.gather(
                    *(policy_client(stub, t0 + seconds, result, seed) for seed in range(n))
                )
                result.elapsed = time.monotonic() - t0
                result.rss_after = rss_mib(proc)
                runs.append(result)
    finally:
        proc.stop()
    return {"runs": runs, "before": before}


# --- report


def rss_text(rss: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in rss.items())


def run_rows(runs: list[LoadResult], with_open: bool) -> list[str]:
    rows = []
    for r in runs:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "none"
        row = (
            f"| {r.clients} | {r.elapsed:.0f} | {r.episodes} | {r.steps} | "
            f"{r.steps / r.elapsed:.1f} | {1000 * pct(r.step_s, 0.5):.0f} | "
            f"{1000 * pct(r.step_s, 0.99):.0f} |"
        )
        if with_open:
            row += (
                f" {1000 * pct(r.open_s, 0.5):.0f} | {1000 * pct(r.open_s, 0.99):.0f} | {r.busy} |"
            )
        rows.append(row + f" {errors} | {rss_text(r.rss_after)} |")
    return rows


def report(env: dict | None, policy: dict | None, command: str, elapsed: float) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{command}` ({date.today().isoformat()}, {platform.machine()} "
        f"{os.cpu_count()}-core CPU, alone on the machine, {elapsed / 60:.1f} min). "
        "Services are real processes on loopback (one torch thread); the first row of each table "
        "(1 client) is the unloaded baseline, measured in the same run; the loaded run is done "
        "twice, to see whether memory keeps growing. `s` is the time until the last episode "
        "ended: new episodes start for --seconds, and each client finishes the one it is in.",
        "",
    ]
    if env is not None:
        lines += [
            "Env service (2 game workers, default limits; 16 generated level-1 games; episodes "
            f"of random admissible actions, at most {MAX_STEPS} steps):",
            "",
            "| clients | s | episodes | steps | steps/s | Step p50 ms | Step p99 ms | "
            "open p50 ms | open p99 ms | busy answers | errors | RSS after (MiB) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *run_rows(env["runs"], with_open=True),
            "",
            f"- RSS (MiB) before the first run: {rss_text(env['before'])}.",
            f"- Sessions open after the run (the service's gauge): {env['open_after']:.0f}; "
            f"worker recycles: {env['recycles']:.0f}.",
            f"- At max_sessions (8 open, a 9th asked): {env['probe']['answer']} in "
            f'{1000 * env["probe"]["seconds"]:.0f} ms: "{env["probe"]["message"]}"',
            "",
        ]
    if policy is not None:
        lines += [
            f"Policy service (packaged SmolLM2, local engine, 24 new tokens; {POLICY_STEPS}-step "
            "episodes with a growing history, EndEpisode after each):",
            "",
            "| clients | s | episodes | Act calls | Act/s | Act p50 ms | Act p99 ms | errors | "
            "RSS after (MiB) |",
            "|---|---|---|---|---|---|---|---|---|",
            *run_rows(policy["runs"], with_open=False),
            "",
            f"- RSS (MiB) before the first run: {rss_text(policy['before'])}.",
            "",
        ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-policy", action="store_true")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 600:
        parser.error("--clients must be 1..256 and --seconds 1..600 (bounded load)")
    command = " ".join([".venv/bin/python", *sys.argv])
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = await run_env(root, args.clients, args.seconds)
        policy = None if args.skip_policy else await run_policy(root, args.clients, args.seconds)
    text = report(env, policy, command, time.monotonic() - t0)
    print(text)
    if args.write:
        replace_section(SECTION, text)


if __name__ == "__main__":
    asyncio.run(main())
