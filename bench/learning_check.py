"""The learning check: held-out success per round of `a3t run` profiles, next to baselines.

    .venv/bin/python bench/learning_check.py [--rounds 2] [--profiles default no_actre] [--write]

Each profile is a full `a3t run` (real service processes, SmolLM2 on the CPU, generated level-1
games) in its own work directory under var/bench/learning/. The random-action agent plays the same
held-out games with uniformly random admissible actions for the same step budget. Reported: success
per round (base = before training), wall time and the CPU time of all processes. With --write the
table replaces the "## Learning check" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from docs_section import replace_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Learning check: success per round"
PROFILES = {
    "default": [],  # the `make run` profile
    "no_actre": ["--set", "use_actre=false"],  # exploration by temperature sampling
}


def run_profile(name: str, rounds: int, workdir: Path) -> dict:
    cmd = [
        str(ROOT / ".venv/bin/a3t"),
        "--workdir",
        str(workdir),
        "run",
        "--name",
        name,
        "--rounds",
        str(rounds),
        *PROFILES[name],
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": time.perf_counter() - start, "cpu": cpu, **read_store(workdir, name)}


def read_store(workdir: Path, name: str) -> dict:
    db = sqlite3.connect(workdir / "a3t.sqlite")
    (eid, config) = db.execute(
        "SELECT experiment_id, config_json FROM experiments WHERE name = ?", (name,)
    ).fetchone()
    evals = db.execute(
        "SELECT round, success_rate, n_tasks FROM evaluations WHERE experiment_id = ? "
        "ORDER BY round",
        (eid,),
    ).fetchall()
    return {"evals": evals, "config": config}


def random_agent(games_root: Path, split: str, max_steps: int, episodes: int, seed: int) -> float:
    sys.path.insert(0, str(ROOT / "services" / "env"))
    from a3t_env.alfworld import AlfworldGame, discover_games

    rng = random.Random(seed)
    won = total = 0
    for record in discover_games(games_root, split):
        game = AlfworldGame(record.path)
        for _ in range(episodes):
            _, state = game.reset()
            for _ in range(max_steps):
                state = game.step(rng.choice(sorted(state.admissible)))
                if state.won:
                    won += 1
                    break
            total += 1
    return won / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--random-episodes", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    base = ROOT / "var" / "bench" / "learning"
    results = {}
    for name in args.profiles:
        results[name] = run_profile(name, args.rounds, base / name)
    eval_split = "gen_l1_s1000_n8"  # `a3t run` defaults: level 1, eval seed 1000, 8 games
    first = base / args.profiles[0] / "games"
    rand = random_agent(first, eval_split, 10, args.random_episodes, seed=0)

    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/learning_check.py --rounds {args.rounds} --profiles "
        f"{' '.join(args.profiles)} --write` ({date.today()}, {platform.machine()} "
        f"{os.cpu_count()}-core CPU). 16 training and 8 held-out generated level-1 games, "
        "SmolLM2-135M-Instruct, 10 steps per episode.",
        "",
        "| profile | "
        + " | ".join(["base", *[f"round {r}" for r in range(args.rounds)]])
        + " | wall min | CPU min |",
        "|---" * (args.rounds + 4) + "|",
    ]
    for name, res in results.items():
        rates = {r: f"{100 * s:.0f}%" for r, s, _ in res["evals"]}
        cells = [rates.get(r, "-") for r in range(-1, args.rounds)]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {res['wall'] / 60:.1f} | {res['cpu'] / 60:.1f} |"
        )
    lines.append(
        f"| random admissible actions ({args.random_episodes} episodes per game) | "
        + " | ".join([f"{100 * rand:.0f}%"] * (args.rounds + 1))
        + " | - | - |"
    )
    body = "\n".join(lines) + "\n"
    print(body)
    if args.write:
        replace_section(SECTION, body)


if __name__ == "__main__":
    main()
