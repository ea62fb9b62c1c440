"""Write generated games as ordinary ALFWorld game directories.

    out_root/json_2.1.1/<split>/<task_type>-<Object>-None-<Receptacle>-<scene>/trial_<id>/game.tw-pddl

Each file is the JSON the real games use (pddl_domain and grammar from the installed alfworld,
the grammar's UNKNOWN GOAL replaced by the task as alfworld's `add_task_to_grammar` does,
pddl_problem, solvable, walkthrough) plus a "generator" key. Game `index` of (level, seed) is drawn
from its own RNG, seeded by (version, level, seed, index): the same arguments give the same bytes,
and game 7 does not change when `count` does.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Sequence
from pathlib import Path

from a3t.envs.alfworld.gen import vocab as vocab_mod
from a3t.envs.alfworld.gen.levels import LEVELS
from a3t.envs.alfworld.gen.pddl import render_problem
from a3t.envs.alfworld.gen.scene import Scene, sample_scene
from a3t.envs.base import MAX_GENERATED_TASKS, SPLIT_NAME
from a3t.errors import InvalidArgument, quote

logger = logging.getLogger(__name__)

# Bump when a change makes the same arguments give different games.
GENERATOR_VERSION = 1
JSON_DIR = "json_2.1.1"
GAME_FILE = "game.tw-pddl"
MAX_SEED = 2**63 - 1


def generate_games(
    out_root: Path,
    split: str,
    level: int,
    seed: int,
    count: int,
    task_types: Sequence[str] | None = None,
) -> list[Path]:
    """Write `count` games of one level into `out_root/json_2.1.1/<split>/`; return their paths.

    Task types rotate through the level's admitted types (or `task_types`, a subset of them), so
    30 games of a level with six types hold five of each. Existing files with the same names are
    overwritten (with the same bytes, when the arguments are the same).
    """
    types = _check_arguments(split, level, seed, count, task_types)
    vocab = vocab_mod.load()
    split_dir = Path(out_root) / JSON_DIR / split
    paths = []
    for index in range(count):
        task_type = types[index % len(types)]
        trial = trial_id(level, seed, index)
        scene = sample_scene(vocab, LEVELS[level], task_type, _rng(level, seed, index))
        path = split_dir / task_folder(scene) / f"trial_{trial}" / GAME_FILE
        _write_atomic(path, game_json(vocab, scene, trial, level, seed, index))
        paths.append(path)
    logger.info("generated %d games (level %d, seed %d) in %s", count, level, seed, split_dir)
    return paths


def game_json(
    vocab: vocab_mod.Vocabulary, scene: Scene, trial: str, level: int, seed: int, index: int
) -> str:
    """The game.tw-pddl text: sorted keys and no timestamps, so it is reproducible."""
    data = {
        "pddl_domain": vocab.pddl_domain,
        "grammar": vocab.grammar.replace("UNKNOWN GOAL", scene.task),
        "pddl_problem": render_problem(vocab, scene, f"trial_{trial}"),
        "solvable": True,
        "walkthrough": list(scene.walkthrough),
        "generator": {
            "name": "a3t.envs.alfworld.gen",
            "version": GENERATOR_VERSION,
            "alfworld": vocab.version,
            "level": level,
            "seed": seed,
            "index": index,
            "room": scene.room,
        },
    }
    return json.dumps(data, sort_keys=True) + "\n"


def task_folder(scene: Scene) -> str:
    """'pick_heat_then_place_in_recep-Mug-None-CoffeeMachine-12', as in the real data."""
    return f"{scene.task_type}-{scene.object_cls}-None-{scene.target_cls}-{scene.scene_number}"


def trial_id(level: int, seed: int, index: int) -> str:
    """Unique per (level, seed, index), so levels and seeds can share a split."""
    return f"L{level}_S{seed}_{index:05d}"


def _rng(level: int, seed: int, index: int) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: stable across processes and
    # platforms, unlike hash() of a tuple.
    return random.Random(f"a3t-gen/{GENERATOR_VERSION}/{level}/{seed}/{index}")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a game


def _check_arguments(
    split: str, level: int, seed: int, count: int, task_types: Sequence[str] | None
) -> tuple[str, ...]:
    """Validate everything at once; return the task types to rotate through."""
    problems = []
    if not isinstance(split, str) or not SPLIT_NAME.match(split):
        shown = quote(split) if isinstance(split, str) else repr(split)
        problems.append(f"split must be 1-64 letters, digits, '_' or '-', got {shown}")
    level_ok = isinstance(level, int) and not isinstance(level, bool) and level in LEVELS
    if not level_ok:
        problems.append(f"level must be one of {sorted(LEVELS)}, got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        problems.append(f"seed must be an integer in [0, 2**63 - 1], got {seed!r}")
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 1 <= count <= MAX_GENERATED_TASKS
    ):
        problems.append(f"count must be an integer in [1, {MAX_GENERATED_TASKS}], got {count!r}")
    admitted = LEVELS[level].task_types if level_ok else vocab_mod.TASK_TYPES
    types = tuple(admitted)
    if task_types is not None:
        if isinstance(task_types, str):
            task_types = [task_types]  # a lone string would otherwise be read letter by letter
        wrong = [t for t in task_types if t not in admitted]
        if wrong or not task_types:
            got = repr(list(task_types))  # a client's: cut short, or the status is too big to send
            got = got if len(got) <= 80 else f"{got[:80]}... ({len(got)} characters)"
            problems.append(
                f"task_types must be a non-empty subset of {list(admitted)} "
                f"(the types level {level} admits), got {got}"
            )
        # Keep the level's order, so the rotation does not depend on how the caller listed them.
        types = tuple(t for t in admitted if t in task_types)
    if problems:
        raise InvalidArgument("; ".join(problems))
    return types
