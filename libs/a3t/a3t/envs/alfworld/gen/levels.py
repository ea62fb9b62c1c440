"""Difficulty levels of generated games: one frozen dataclass of knobs, one dict of levels.

Level 1 is meant to be won by uniformly random admissible actions often enough (at least 30% of
games within 20 steps, see docs/benchmarks.md) that a small model finds its first successes;
level 4 approaches the real games (about 24 receptacles, closed cabinets and drawers, 3-9 steps).

`LEVELS` lists the levels easiest first, and that order is the difficulty order, not the numbers:
level 5 was added later, between 1 and 2 (level 1's tasks, but in a room of 3 receptacles with the
agent starting in the middle, as in the real games). A level's number is on the wire
(GenerateTasks.level), in stored experiments and in split and trial names, and the same
(level, seed) must keep giving the same games, so numbers are never reused or shifted.
"""

from __future__ import annotations

from dataclasses import dataclass

from a3t.envs.alfworld.gen.vocab import TASK_TYPES


@dataclass(frozen=True)
class Level:
    """Knobs of one difficulty level. Ranges are inclusive (low, high) and sampled uniformly."""

    description: str
    task_types: tuple[str, ...]  # the task types this level admits
    receptacles: tuple[int, int]  # receptacles in the room, including the ones the task needs
    distractors: tuple[int, int]  # movable objects of other classes than the task's object
    copies: tuple[int, int]  # instances of the task's object class (pick_two: at least 2)
    # Whether cabinets, drawers and safes (closed, as in the real games) may furnish the room.
    # Fridge and microwave appear, closed, whenever a task needs them.
    closed_receptacles: bool
    start_at_object: bool  # the agent starts next to the receptacle holding the task's object
    lamp_with_object: bool  # look_at_obj_in_light: the desk lamp stands by the task's object
    plan_steps: tuple[int, int]  # walkthrough length; worlds outside the range are re-drawn


# Easiest first (see the module docstring): iterate LEVELS, never sorted(LEVELS), to climb.
LEVELS: dict[int, Level] = {
    1: Level(
        description="first steps: 2 receptacles, start next to 2 copies of the object, 2-3 steps",
        task_types=("pick_and_place_simple", "look_at_obj_in_light"),
        receptacles=(2, 2),
        distractors=(0, 0),
        copies=(2, 2),
        closed_receptacles=False,
        start_at_object=True,
        lamp_with_object=True,
        plan_steps=(2, 3),
    ),
    5: Level(
        description="level 1's tasks in a 3-receptacle room, starting in its middle, 3-4 steps",
        task_types=("pick_and_place_simple", "look_at_obj_in_light"),
        receptacles=(3, 3),
        distractors=(0, 0),
        copies=(2, 2),
        closed_receptacles=False,
        start_at_object=False,
        lamp_with_object=True,
        plan_steps=(3, 4),
    ),
    2: Level(
        description="small rooms: all six task types, 3-5 receptacles, nothing else closed",
        task_types=TASK_TYPES,
        receptacles=(3, 5),
        distractors=(1, 3),
        copies=(1, 2),
        closed_receptacles=False,
        start_at_object=False,
        lamp_with_object=False,
        plan_steps=(3, 8),
    ),
    3: Level(
        description="furnished rooms: 6-10 receptacles, closed cabinets and drawers",
        task_types=TASK_TYPES,
        receptacles=(6, 10),
        distractors=(3, 8),
        copies=(1, 3),
        closed_receptacles=True,
        start_at_object=False,
        lamp_with_object=False,
        plan_steps=(3, 10),
    ),
    4: Level(
        description="real-size rooms: 14-28 receptacles, many objects, like the ALFWorld games",
        task_types=TASK_TYPES,
        receptacles=(14, 28),
        distractors=(10, 25),
        copies=(1, 3),
        closed_receptacles=True,
        start_at_object=False,
        lamp_with_object=False,
        plan_steps=(3, 12),
    ),
}


def check_levels(levels: dict[int, Level]) -> list[str]:
    """Problems with a level table, [] when sane (used by the unit tests and at import)."""
    problems = []
    for number, level in levels.items():
        where = f"level {number}"
        unknown = [t for t in level.task_types if t not in TASK_TYPES]
        if not level.task_types or unknown:
            problems.append(f"{where}: task_types must be a non-empty subset of {TASK_TYPES}")
        for name in ("receptacles", "distractors", "copies", "plan_steps"):
            low, high = getattr(level, name)
            if not 0 <= low <= high:
                problems.append(f"{where}: {name} must be 0 <= low <= high, got {(low, high)}")
        if level.receptacles[0] < 2:
            problems.append(f"{where}: a task needs at least 2 receptacles")
        if level.copies[0] < 1:
            problems.append(f"{where}: copies must be at least 1")
    return problems
