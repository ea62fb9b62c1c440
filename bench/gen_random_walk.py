"""Random-walk solve rate of generated ALFWorld games per level, and steps/s of generated vs real.

    python bench/gen_random_walk.py [--games 30] [--episodes 4] [--workers 2] [--write-docs]

Per level (by default every level, easiest first: 1, 5, 2, 3, 4), `--games` games are generated
(seed `--seed`, every admitted task type in turn) and each is played `--episodes` times by a
uniformly random walk over the admissible commands, up to 40 steps; an episode counts as solved
within 20 (40) steps if it is won by step 20 (40). The same walk on real games (the first
valid_seen games of each task type in ../shared/data/alfworld) gives the baseline and the real
games' steps/s. Every walk is seeded by (seed, game, episode), so a run is reproducible up to the
engine's own determinism. `--write-docs` replaces the section
"## Game generator: random-walk solve rate" of docs/benchmarks.md with the results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import re
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from docs_section import DOCS, replace_section

from a3t.envs.alfworld.engine import AlfworldGame, discover_games, read_walkthrough
from a3t.envs.alfworld.gen import GENERATOR_VERSION, LEVELS, generate_games

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "alfworld"
SECTION = "## Game generator: random-walk solve rate"
MAX_STEPS = 40
CUTOFFS = (20, 40)


@dataclass(frozen=True)
class Job:
    label: str  # "level 1" or "real"
    task_type: str
    path: Path
    episodes: int
    seed: int


@dataclass(frozen=True)
class GameResult:
    job: Job
    win_steps: tuple[int | None, ...]  # per episode: the step that won, None if not within 40
    steps: int  # actions played in all episodes
    step_seconds: float  # time spent in step() only
    load_seconds: float  # load + first reset
    walkthrough_steps: int
    receptacles: int  # receptacles declared in the PDDL problem


def walk_game(job: Job) -> GameResult:
    """Play `job.episodes` random walks on one game (runs in a worker process)."""
    started = time.perf_counter()
    game = AlfworldGame(job.path)
    _, first = game.reset()
    load_seconds = time.perf_counter() - started
    problem = json.loads(job.path.read_text())["pddl_problem"]
    # Declared receptacles ("Drawer_bar_... - receptacle"), not the goal's "?r - receptacle".
    receptacles = len(re.findall(r"^\s+[A-Za-z]\w* - receptacle$", problem, flags=re.MULTILINE))
    wins: list[int | None] = []
    steps, step_seconds = 0, 0.0
    for episode in range(job.episodes):
        game_id = f"{job.path.parent.parent.name}/{job.path.parent.name}"
        rng = random.Random(f"{job.seed}/{game_id}/{episode}")
        state = first if episode == 0 else game.reset()[1]
        won_at = None
        for t in range(1, MAX_STEPS + 1):
            action = rng.choice(state.admissible)
            tick = time.perf_counter()
            state = game.step(action)
            step_seconds += time.perf_counter() - tick
            steps += 1
            if state.won:
                won_at = t
                break
        wins.append(won_at)
    return GameResult(
        job=job,
        win_steps=tuple(wins),
        steps=steps,
        step_seconds=step_seconds,
        load_seconds=load_seconds,
        walkthrough_steps=len(read_walkthrough(job.path)),
        receptacles=receptacles,
    )


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def solved(results: list[GameResult], cutoff: int) -> tuple[int, int]:
    wins = [w for r in results for w in r.win_steps]
    return sum(w is not None and w <= cutoff for w in wins), len(wins)


def pct(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{100 * k / n:.0f}% ({100 * low:.0f}-{100 * high:.0f})"


def report(groups: dict[str, list[GameResult]]) -> str:
    """Markdown tables: per group, then per group and task type."""
    lines = [
        "| games | episodes | walkthrough steps (mean) | receptacles (mean) | solved <= 20 steps "
        "(95% CI) | solved <= 40 steps (95% CI) | steps/s (one process) | load + reset (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, results in groups.items():
        n_games = len(results)
        k20, n = solved(results, 20)
        k40, _ = solved(results, 40)
        steps = sum(r.steps for r in results)
        seconds = sum(r.step_seconds for r in results)
        lines.append(
            f"| {label}: {n_games} | {n} "
            f"| {sum(r.walkthrough_steps for r in results) / n_games:.1f} "
            f"| {sum(r.receptacles for r in results) / n_games:.1f} "
            f"| {pct(k20, n)} | {pct(k40, n)} | {steps / seconds:.1f} "
            f"| {sum(r.load_seconds for r in results) / n_games:.2f} |"
        )
    lines += ["", "Per task type (solved within 20 / 40 steps, episodes):", ""]
    lines += ["| group | task type | episodes | <= 20 | <= 40 |", "|---|---|---|---|---|"]
    for label, results in groups.items():
        by_type: dict[str, list[GameResult]] = defaultdict(list)
        for r in results:
            by_type[r.job.task_type].append(r)
        for task_type, rs in sorted(by_type.items()):
            k20, n = solved(rs, 20)
            k40, _ = solved(rs, 40)
            lines.append(
                f"| {label} | {task_type} | {n} | {100 * k20 / n:.0f}% | {100 * k40 / n:.0f}% |"
            )
    return "\n".join(lines)


def levels_table() -> str:
    lines = [
        "| level | task types | receptacles | distractors | copies of the object | closed "
        "cabinets/drawers | start at the object | lamp by the object | walkthrough steps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, lv in LEVELS.items():
        types = "all six" if len(lv.task_types) == 6 else ", ".join(lv.task_types)
        lines.append(
            f"| {number} | {types} | {_span(lv.receptacles)} | {_span(lv.distractors)} "
            f"| {_span(lv.copies)} | {'yes' if lv.closed_receptacles else 'no'} "
            f"| {'yes' if lv.start_at_object else 'no'} | {'yes' if lv.lamp_with_object else 'no'} "
            f"| {_span(lv.plan_steps)} |"
        )
    return "\n".join(lines)


def _span(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=30, help="generated games per level")
    parser.add_argument("--episodes", type=int, default=4, help="random walks per game")
    parser.add_argument("--real-games", type=int, default=2, help="real games per task type")
    parser.add_argument(
        "--levels", type=int, nargs="+", default=list(LEVELS), help="default: all, easiest first"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("ALFWORLD_DATA", str(REPO / "var" / "alfworld"))

    with tempfile.TemporaryDirectory(prefix="a3t-gen-bench-") as tmp:
        jobs: list[Job] = []
        for level in args.levels:
            for path in generate_games(Path(tmp), f"l{level}", level, args.seed, args.games):
                task_type = path.parent.parent.name.split("-", 1)[0]
                jobs.append(Job(f"level {level}", task_type, path, args.episodes, args.seed))
        real = discover_games(REAL_DATA, "valid_seen")
        per_type: dict[str, int] = defaultdict(int)
        for record in real:
            if per_type[record.task_type] < args.real_games:
                per_type[record.task_type] += 1
                jobs.append(
                    Job("real valid_seen", record.task_type, record.path, args.episodes, args.seed)
                )

        # Interleave levels and real games, so that a change in the machine's load (it is shared)
        # hits every group alike and steps/s stay comparable.
        random.Random(args.seed).shuffle(jobs)
        started = time.perf_counter()
        context = multiprocessing.get_context("spawn")  # fresh engine state per worker
        results = []
        with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            for i, result in enumerate(pool.map(walk_game, jobs), 1):
                results.append(result)
                if i % 10 == 0 or i == len(jobs):
                    logger.info("%d/%d games played", i, len(jobs))
        wall = time.perf_counter() - started
        load_average = os.getloadavg()[2]  # 15-minute mean: how shared the machine was
        results.sort(key=lambda r: (r.job.label, str(r.job.path)))

    # Tables list the levels in the order asked for (by default easiest first), then the real games.
    groups: dict[str, list[GameResult]] = {f"level {n}": [] for n in args.levels}
    groups["real valid_seen"] = []
    for r in results:
        groups[r.job.label].append(r)
    table = report({label: rs for label, rs in groups.items() if rs})  # --real-games 0: none
    print(table)

    command = "python bench/gen_random_walk.py " + shlex.join(sys.argv[1:])
    body = "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command.strip()}` (PYTHONPATH=libs/a3t:services/env when the packages "
            "are not installed).",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (the load average says "
            "what else ran), "
            f"Python {platform.python_version()}, {args.workers} worker processes; "
            f"date {datetime.date.today().isoformat()}; generator version {GENERATOR_VERSION}, "
            f"seed {args.seed}; wall time {wall / 60:.1f} min; 15-minute load average at the "
            f"end {load_average:.1f}.",
            "",
            "A random walk picks uniformly among the admissible commands (look, inventory, help "
            f"and examine included) for up to {MAX_STEPS} steps. Rates are per episode, with a 95% "
            "Wilson interval; steps/s counts step() time in one worker process (the machine was "
            "shared, so compare generated with real from the same run rather than across runs).",
            "",
            table,
            "",
            "The levels (libs/a3t/a3t/envs/alfworld/gen/levels.py):",
            "",
            levels_table(),
            "",
        ]
    )
    if args.write_docs:
        replace_section(SECTION, body)
        logger.info("wrote %s", DOCS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
