"""The critic's signal: AUC of its scores against the environment's outcome, per env and scoring.

    .venv/bin/python bench/critic_auc.py [--alfworld-episodes 24] [--scorings probability text]
        [--write]

Trajectories (each with the env's won / lost):
- ALFWorld: episodes of uniformly random admissible actions (seeded, 10 steps) on generated
  level-1 games, half won and half lost;
- API-Bank: every trajectory of bench/critic_check.py's exploring run (var/bench/critic): the
  base evaluation, the attempts and the explorations (run that first).
A critic service (a real process, SmolLM2-135M-Instruct on the CPU) scores each one with each
scoring asked for: `probability` (10 x P(yes) to "did the agent accomplish the task"; the default)
and `text` (its written 0-10; about 38 s per API-Bank trajectory on 2 cores, so only on
request). Reported per env and mode: the AUC against won (0.5 = no signal;
ties count half), the share of unparseable answers, and the mean score of won and lost
trajectories. With --write the table replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from docs_section import replace_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Critic signal: AUC against the environment's outcome"
sys.path.insert(0, str(ROOT / "services" / "controller"))
os.environ.setdefault("ALFWORLD_DATA", str(ROOT / "var" / "alfworld"))  # not ~/.cache (NOTES.md)


def alfworld_trajectories(n: int, seed: int = 0) -> list:
    """n random-walk trajectories on generated level-1 games, n/2 won and n/2 lost."""
    from a3t.envs import env_spec
    from a3t.trajectory import Step, Task, Trajectory

    root = Path(tempfile.mkdtemp(prefix="critic-auc-"))
    environment = env_spec("alfworld").environment(root)
    environment.generate("auc", 1, seed, 16, ())
    rng = random.Random(seed)
    won, lost = [], []
    tasks = environment.list_tasks("auc")
    while len(won) < n // 2 or len(lost) < n // 2:
        record = rng.choice(tasks)
        game = environment.load(record)
        instruction, state = game.reset()
        first, steps = state.observation, []
        for _ in range(10):
            actions = [a for a in sorted(state.admissible) if a.split()[0] not in ("look", "help")]
            action = rng.choice(actions)
            state = game.step(action)
            steps.append(
                Step(thought="", action=action, observation=state.observation, done=state.done)
            )
            if state.done:
                break
        task = Task("alfworld", record.task_id, "auc", record.task_type, instruction)
        traj = Trajectory(task, first, tuple(steps), won=state.won, reward=float(state.won))
        bucket = won if state.won else lost
        if len(bucket) < n // 2:
            bucket.append(traj)
    return won + lost


def apibank_trajectories() -> list:
    from a3t_controller.store import Store

    path = ROOT / "var" / "bench" / "critic" / "a3t.sqlite"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run bench/critic_check.py first")
    store = Store(path)
    explorer = store.experiment("critic_text")
    return [t.trajectory for t in store.trajectories(explorer.experiment_id)]


async def score_all(trajectories: list, scoring: str) -> list[float | None]:
    from a3t.procs import start_service
    from a3t.rpc.client import channel
    from a3t_controller.clients import GrpcCritic

    proc = start_service(
        "critic",
        ["--model", "smollm2", "--threads", str(os.cpu_count() or 1), "--scoring", scoring],
        log_dir=ROOT / "var" / "bench" / "critic-auc" / "logs",
    )
    try:
        await proc.wait_ready(600)
        async with channel(proc.target) as chan:
            critic = GrpcCritic(chan)
            scores = []
            for i, traj in enumerate(trajectories):
                score, _ = await critic.score(traj)
                scores.append(score)
                print(f"\r{scoring}: {i + 1}/{len(trajectories)} scored", end="", flush=True)
            print()
            return scores
    finally:
        proc.stop()


def row(env: str, scoring: str, trajectories: list, scores: list, seconds: float) -> str:
    from a3t_controller.select import auc

    won = [t.won for t in trajectories]
    parsed = [(s, w) for s, w in zip(scores, won, strict=True) if s is not None]
    value = auc([s for s, _ in parsed], [w for _, w in parsed])

    def mean(flag: bool) -> str:
        values = [s for s, w in parsed if w == flag]
        return f"{sum(values) / len(values):.2f}" if values else "-"

    return (
        f"| {env} | {scoring} | {len(trajectories)} ({sum(won)} won) | "
        f"{'-' if value is None else f'{value:.2f}'} | "
        f"{100 * (len(scores) - len(parsed)) / len(scores):.0f}% | {mean(True)} | {mean(False)} "
        f"| {seconds / 60:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alfworld-episodes", type=int, default=24)
    parser.add_argument(
        "--scorings", nargs="+", default=["probability"], choices=["probability", "text"]
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sets = {
        "ALFWorld": alfworld_trajectories(args.alfworld_episodes),
        "API-Bank": apibank_trajectories(),
    }
    rows = []
    for scoring in args.scorings:
        everything = [t for trajs in sets.values() for t in trajs]
        start = time.perf_counter()
        scores = asyncio.run(score_all(everything, scoring))
        seconds = (time.perf_counter() - start) / len(everything)
        at = 0
        for env, trajs in sets.items():
            part = scores[at : at + len(trajs)]
            at += len(trajs)
            rows.append(row(env, scoring, trajs, part, seconds * len(trajs)))
    body = "\n".join(
        [
            SECTION,
            "",
            f"Command: `.venv/bin/python bench/critic_auc.py --scorings {' '.join(args.scorings)}"
            f" --write` ({date.today()}, "
            f"{platform.machine()} {os.cpu_count()}-core CPU, nothing else running; the critic "
            "service a real process, SmolLM2-135M-Instruct float32). ALFWorld: random-walk "
            "episodes on generated level-1 games, half won; API-Bank: every trajectory of "
            "bench/critic_check.py's exploring run. AUC 0.5 = no signal.",
            "",
            "| env | scoring | trajectories | AUC vs won | unparseable | mean score won | "
            "mean score lost | wall min |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    if args.write:
        replace_section(SECTION, body + "\n")


if __name__ == "__main__":
    main()
