"""Raw ALFWorld engine throughput: walkthroughs replayed in-process and through a GamePool.

Helpers for the env benchmarks (bench/env_throughput.py adds the gRPC side), and a script:

    python bench/env_engine.py [--split valid_seen] [--games 12] [--workers 1 2]

Loading (game load + first reset) is timed apart from stepping, because a session pays it once
while an episode pays a step per action. Every replay must win, or the numbers mean nothing.
A second table times load, reset and step of the same games, and the reset two ways: the
engine's (AlfworldGame.reset, which reuses the load's PDDL translation) and textworld's own
(which translates the problem again: what AlfworldGame.reset cost before).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from a3t.envs.alfworld.engine import AlfworldGame, GameRecord, discover_games, read_walkthrough
from a3t_env.pool import GamePool

logger = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alfworld"


@dataclass(frozen=True)
class EngineRun:
    """Result of one replay run. Unpacks as `(steps, seconds)`; seconds counts stepping only."""

    steps: int
    seconds: float  # wall-clock seconds spent stepping
    load_seconds: float  # wall-clock seconds spent loading games and making their first reset
    games: int

    def __iter__(self) -> Iterator[float]:
        yield self.steps
        yield self.seconds

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


def _check_won(record: GameRecord, won: bool) -> None:
    if not won:
        raise RuntimeError(f"walkthrough of {record.task_id} did not win: the benchmark is invalid")


def run_walkthroughs_inprocess(games: Sequence[GameRecord]) -> EngineRun:
    """Replay each game's walkthrough through AlfworldGame, one game after another."""
    steps, step_s, load_s = 0, 0.0, 0.0
    for record in games:
        walkthrough = read_walkthrough(record.path)
        t0 = time.perf_counter()
        game = AlfworldGame(record.path)
        game.reset()
        t1 = time.perf_counter()
        for action in walkthrough:
            state = game.step(action)
        step_s += time.perf_counter() - t1
        load_s += t1 - t0
        steps += len(walkthrough)
        _check_won(record, state.won)
    return EngineRun(steps=steps, seconds=step_s, load_seconds=load_s, games=len(games))


@dataclass(frozen=True)
class ResetRun:
    """Mean seconds of one load, one reset each way and one step, over `games` games."""

    games: int
    resets: int  # resets timed each way, in all
    load_seconds: float  # AlfworldGame(path): file, PDDL translation, planner, demangler
    reset_seconds: float  # AlfworldGame.reset() after a partly played episode
    textworld_reset_seconds: float  # textworld's own reset of the same game
    step_seconds: float


def time_resets(games: Sequence[GameRecord], resets_per_game: int = 3) -> ResetRun:
    """Load each game, then `resets_per_game` times: play half its walkthrough, reset both ways.

    Each textworld reset must give the engine reset's observation and admissible commands, and
    the last episode must win by the walkthrough, or the timing is of something else.
    """
    load_s = reset_s = textworld_s = step_s = 0.0
    steps = 0
    for record in games:
        walkthrough = read_walkthrough(record.path)
        t0 = time.perf_counter()
        game = AlfworldGame(record.path)
        load_s += time.perf_counter() - t0
        game.reset()
        for _ in range(resets_per_game):
            for action in walkthrough[: len(walkthrough) // 2]:
                t0 = time.perf_counter()
                game.step(action)
                step_s += time.perf_counter() - t0
                steps += 1
            t0 = time.perf_counter()
            _, state = game.reset()
            reset_s += time.perf_counter() - t0
            # The wrapped textworld env, reset without the engine's translation memo: the old way.
            t0 = time.perf_counter()
            observation, infos = game._env.reset()
            textworld_s += time.perf_counter() - t0
            if (observation, list(infos["admissible_commands"])) != (
                state.observation,
                list(state.admissible),
            ):
                raise RuntimeError(f"{record.task_id}: the two resets differ: results invalid")
        for action in walkthrough:
            state = game.step(action)
        _check_won(record, state.won)
    resets = len(games) * resets_per_game
    return ResetRun(
        games=len(games),
        resets=resets,
        load_seconds=load_s / len(games),
        reset_seconds=reset_s / resets,
        textworld_reset_seconds=textworld_s / resets,
        step_seconds=step_s / steps if steps else 0.0,
    )


def reset_table(run: ResetRun) -> list[str]:
    """Markdown rows: mean seconds of a load, a reset each way and a step."""
    return [
        "| operation | mean s | vs a load |",
        "|---|---|---|",
        f"| load (AlfworldGame(path)) | {run.load_seconds:.3f} | 1.00 |",
        f"| reset, textworld's own (before) | {run.textworld_reset_seconds:.3f} "
        f"| {run.textworld_reset_seconds / run.load_seconds:.2f} |",
        f"| reset, AlfworldGame.reset (now) | {run.reset_seconds:.3f} "
        f"| {run.reset_seconds / run.load_seconds:.2f} |",
        f"| step | {run.step_seconds:.3f} | {run.step_seconds / run.load_seconds:.2f} |",
    ]


async def _run_pool(games: Sequence[GameRecord], workers: int) -> EngineRun:
    walkthroughs = [read_walkthrough(r.path) for r in games]
    session_ids = [str(uuid.uuid4()) for _ in games]
    pool = GamePool(workers=workers, data_roots={"alfworld": Path("var/envs/alfworld")})
    await pool.start()
    try:
        # Phase 1: open every session at once (least-loaded placement spreads them).
        t0 = time.perf_counter()
        opens = [
            pool.open(s, "alfworld", r.task_record())
            for s, r in zip(session_ids, games, strict=True)
        ]
        await asyncio.gather(*opens)
        t1 = time.perf_counter()

        # Phase 2: every session replays its walkthrough; all sessions run concurrently.
        async def replay(session_id: str, walkthrough: list[str]) -> bool:
            for action in walkthrough:
                state = await pool.step(session_id, action)
            return state.won

        replays = [replay(s, w) for s, w in zip(session_ids, walkthroughs, strict=True)]
        won = await asyncio.gather(*replays)
        t2 = time.perf_counter()
        await asyncio.gather(*(pool.close(s) for s in session_ids))
    finally:
        await pool.shutdown()
    for record, ok in zip(games, won, strict=True):
        _check_won(record, ok)
    steps = sum(len(w) for w in walkthroughs)
    return EngineRun(steps=steps, seconds=t2 - t1, load_seconds=t1 - t0, games=len(games))


def run_walkthroughs_pool(games: Sequence[GameRecord], workers: int) -> EngineRun:
    """Replay the walkthroughs through a fresh GamePool(workers); worker start-up is not timed."""
    return asyncio.run(_run_pool(games, workers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--split", default="valid_seen")
    parser.add_argument("--games", type=int, default=12, help="first N games of the split")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    games = discover_games(args.data_root, args.split)[: args.games]
    runs = {"in-process": run_walkthroughs_inprocess(games)}
    for workers in args.workers:
        runs[f"pool({workers})"] = run_walkthroughs_pool(games, workers)

    print(f"{len(games)} {args.split} games, walkthrough replay")
    print(f"{'mode':<12} {'steps':>6} {'step s':>8} {'steps/s':>8} {'load s':>8} {'s/load':>7}")
    for name, run in runs.items():
        per_load = run.load_seconds / run.games
        print(
            f"{name:<12} {run.steps:>6} {run.seconds:>8.2f} {run.steps_per_second:>8.1f} "
            f"{run.load_seconds:>8.2f} {per_load:>7.2f}"
        )
    resets = time_resets(games)
    print(f"\n{resets.games} games, {resets.resets} resets each way, after half a walkthrough")
    print("\n".join(reset_table(resets)))


if __name__ == "__main__":
    main()
