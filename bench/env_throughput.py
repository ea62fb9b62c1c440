"""Env steps/s through the gRPC service vs the raw engine in-process, same games, same run.

    .venv/bin/python bench/env_throughput.py [--games 12] [--workers 1 2] [--repeats 2]

The raw engine replays each walkthrough in this process, one game after another (one core). The
service runs as a real process (`python -m a3t_env`) with W game-worker processes; a client opens
one session per game and replays all walkthroughs concurrently, so W workers can use W cores.
Loading is timed apart from stepping (a session pays it once). Every replay must win. A second
table times, in-process on the same games, a load, a reset (AlfworldGame.reset, which reuses the
load's PDDL translation, next to textworld's own reset, what it cost before) and a step.
Results go to stdout and, with --write, into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docs_section import replace_section
from env_engine import (
    DEFAULT_DATA_ROOT,
    EngineRun,
    reset_table,
    run_walkthroughs_inprocess,
    time_resets,
)

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import discover_games, read_walkthrough
from a3t.procs import start_service
from a3t.rpc.client import channel

SECTION = "## Env service: steps/s through gRPC vs the raw engine"


async def run_service(data_root: Path, split: str, games, workers: int) -> EngineRun:
    with tempfile.TemporaryDirectory() as logs:
        proc = start_service(
            "env",
            [
                *("--env-data-roots", f"alfworld={data_root}", "--envs", "alfworld"),
                *("--workers", str(workers), "--log-level", "WARNING"),
                # Every game opens at once, as before the open bound existed: this measures
                # loading and stepping, not the bound (bench/load.py measures that).
                *("--max-opens-per-worker", str(len(games))),
            ],
            log_dir=Path(logs),
        )
        try:
            await proc.wait_ready(120)
            async with channel(proc.target) as chan:
                stub = env_pb2_grpc.EnvServiceStub(chan)
                t0 = time.perf_counter()
                sessions = await asyncio.gather(
                    *(
                        stub.CreateSession(
                            env_pb2.CreateSessionRequest(
                                env="alfworld", split=split, task_id=g.task_id
                            ),
                            timeout=300,
                        )
                        for g in games
                    )
                )
                t1 = time.perf_counter()

                async def replay(session_id: str, walkthrough: list[str]) -> bool:
                    for action in walkthrough:
                        resp = await stub.Step(
                            env_pb2.StepRequest(session_id=session_id, action=action), timeout=60
                        )
                    return resp.won

                walkthroughs = [read_walkthrough(g.path) for g in games]
                won = await asyncio.gather(
                    *(replay(s.session_id, w) for s, w in zip(sessions, walkthroughs, strict=True))
                )
                t2 = time.perf_counter()
        finally:
            proc.stop()
    if not all(won):
        raise RuntimeError("a walkthrough did not win through the service: results invalid")
    return EngineRun(sum(map(len, walkthroughs)), t2 - t1, t1 - t0, len(games))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--split", default="valid_seen")
    parser.add_argument("--games", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="best of N per configuration")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    games = discover_games(args.data_root, args.split)[: args.games]

    rows: list[tuple[str, EngineRun]] = []
    best = max(
        (run_walkthroughs_inprocess(games) for _ in range(args.repeats)),
        key=lambda r: r.steps_per_second,
    )
    rows.append(("raw engine, in-process (1 core)", best))
    for workers in args.workers:
        runs = [
            asyncio.run(run_service(args.data_root, args.split, games, workers))
            for _ in range(args.repeats)
        ]
        rows.append(
            (f"gRPC service, {workers} worker(s)", max(runs, key=lambda r: r.steps_per_second))
        )

    raw = rows[0][1].steps_per_second
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/env_throughput.py --games {args.games} --workers "
        f"{' '.join(map(str, args.workers))} --repeats {args.repeats} --write` "
        f"({date.today()}, {platform.machine()} {os.cpu_count()}-core CPU, best of "
        f"{args.repeats}). {len(games)} {args.split} games, walkthroughs replayed; every replay "
        "won. The service runs as a real process; its client replays all games concurrently.",
        "",
        "| configuration | steps | step s | steps/s | vs raw | load s (all games) |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r.steps} | {r.seconds:.2f} | {r.steps_per_second:.1f} | "
            f"{r.steps_per_second / raw:.2f}x | {r.load_seconds:.1f} |"
        )
    resets = time_resets(games)
    lines += [
        "",
        f"Load, reset and step, in-process, the same {resets.games} games: {resets.resets} "
        "resets each way, each after half a walkthrough (the two resets must give the same "
        "first observation and admissible commands). A pooled session reuses an idle loaded "
        "game, so it pays a reset instead of a load.",
        "",
        *reset_table(resets),
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    if args.write:
        replace_section(SECTION, body)


if __name__ == "__main__":
    main()
