"""Generate ALFWorld-compatible games from the command line.

    python -m a3t.envs.alfworld.gen --out var/alfworld --split gen_l1 --level 1 --seed 0 --count 30

writes var/alfworld/json_2.1.1/gen_l1/<task folder>/trial_<id>/game.tw-pddl and then plays each
game's walkthrough through the engine (about 0.3-3 s a game; --no-verify skips it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from a3t.envs.alfworld.gen.generate import generate_games
from a3t.envs.alfworld.gen.levels import LEVELS
from a3t.envs.alfworld.gen.vocab import TASK_TYPES
from a3t.errors import A3tError

logger = logging.getLogger("a3t.envs.alfworld.gen")


def main(argv: list[str] | None = None) -> int:
    levels = "; ".join(f"{n}: {lv.description}" for n, lv in LEVELS.items())
    parser = argparse.ArgumentParser(
        prog="python -m a3t.envs.alfworld.gen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="data root (gets json_2.1.1/)")
    parser.add_argument("--split", required=True, help="split folder name, e.g. gen_l1")
    parser.add_argument("--level", type=int, required=True, help=f"difficulty level ({levels})")
    parser.add_argument("--seed", type=int, required=True, help="seed (>= 0)")
    parser.add_argument("--count", type=int, required=True, help="number of games")
    parser.add_argument(
        "--task-type",
        action="append",
        choices=TASK_TYPES,
        help="only this task type (repeatable); default: every type the level admits",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="do not play the walkthroughs after writing"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        paths = generate_games(
            args.out, args.split, args.level, args.seed, args.count, args.task_type
        )
        if not args.no_verify:
            # Imported here: it loads the engine (about 1 s), which --no-verify does not need.
            from a3t.envs.alfworld.gen.verify import verify_games

            logger.info("verified %d walkthroughs through the engine", verify_games(paths))
    except A3tError as e:
        logger.error("%s", e)
        return 2
    print(f"{len(paths)} games in {args.out / 'json_2.1.1' / args.split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
