"""Small weighted-trajectory datasets for the tests and the throughput benchmark.

`toy_items()`: three tasks as DESIGN.md step 4 composes them (one solved directly, one explored
to two successes next to the policy's own failure, one unsolved and so absent). `synthetic_items()`:
many ALFWorld-like trajectories of varied length, for throughput.
"""

from __future__ import annotations

import random

from a3t.compose import TaskOutcome, WeightedTrajectory, compose_weights
from a3t.trajectory import Step, StepSource, Task, Trajectory

ROOM = (
    "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a "
    "countertop 1, a drawer 2, a fridge 1, a microwave 1, a shelf 3, and a sinkbasin 1."
)


def _trajectory(task_id: str, instruction: str, steps: list[Step], won: bool) -> Trajectory:
    return Trajectory(
        task=Task(env="alfworld", task_id=task_id, task_type="pick", instruction=instruction),
        initial_observation=ROOM,
        steps=tuple(steps),
        won=won,
        reward=float(won),
        trajectory_id=f"{task_id}-{'won' if won else 'lost'}-{len(steps)}",
    )


def toy_outcomes() -> list[TaskOutcome]:
    mug = _trajectory(
        "mug",
        "Your task is to: put a mug in shelf.",
        [
            Step("go to countertop 1", "On the countertop 1, you see a mug 1.", "I need a mug."),
            Step("take mug 1 from countertop 1", "You pick up the mug 1 from the countertop 1."),
            Step("go to shelf 3", "You arrive at shelf 3."),
            Step("put mug 1 in/on shelf 3", "You won!", reward=1.0, done=True),
        ],
        won=True,
    )
    apple_success = _trajectory(
        "apple",
        "Your task is to: put an apple in microwave.",
        [
            Step("go to fridge 1", "The fridge 1 is closed.", "An apple is likely in the fridge."),
            Step("open fridge 1", "You open the fridge 1. In it, you see an apple 1."),
            Step(
                "take apple 1 from fridge 1",
                "You pick up the apple 1 from the fridge 1.",
                "Now I take the apple.",
                source=StepSource.SAMPLED,
            ),
            Step("go to microwave 1", "You arrive at microwave 1."),
            Step("put apple 1 in/on microwave 1", "You won!", reward=1.0, done=True),
        ],
        won=True,
    )
    apple_success_2 = _trajectory(
        "apple",
        "Your task is to: put an apple in microwave.",
        [
            Step("go to fridge 1", "The fridge 1 is closed.", "An apple is likely in the fridge."),
            Step("open fridge 1", "You open the fridge 1. In it, you see an apple 1."),
            Step("take apple 1 from fridge 1", "You pick up the apple 1 from the fridge 1."),
            Step("go to microwave 1", "The microwave 1 is closed.", source=StepSource.SAMPLED),
            Step("open microwave 1", "You open the microwave 1. It is empty."),
            Step("put apple 1 in/on microwave 1", "You won!", reward=1.0, done=True),
        ],
        won=True,
    )
    apple_failure = _trajectory(
        "apple",
        "Your task is to: put an apple in microwave.",
        [
            Step("go to fridge 1", "The fridge 1 is closed.", "An apple is likely in the fridge."),
            Step("go to drawer 2", "The drawer 2 is closed."),
            Step("go to cabinet 1", "On the cabinet 1, you see nothing."),
            Step("go to drawer 2", "The drawer 2 is closed.", done=True),
        ],
        won=False,
    )
    knife_failure = _trajectory(
        "knife",
        "Your task is to: put a knife in drawer.",
        [Step("go to shelf 3", "On the shelf 3, you see nothing.", done=True)],
        won=False,
    )
    return [
        TaskOutcome(mug),
        TaskOutcome(apple_failure, (apple_success, apple_success_2)),
        TaskOutcome(knife_failure),  # unsolved: dropped
    ]


def toy_items() -> list[WeightedTrajectory]:
    """mug (+1), two explored apple successes (+1/3 each), the apple failure (-2/3)."""
    return compose_weights(toy_outcomes())


def synthetic_items(n: int, seed: int = 0, max_steps: int = 20) -> list[WeightedTrajectory]:
    """`n` ALFWorld-like trajectories of 2..max_steps steps, weights as composition gives them."""
    rng = random.Random(seed)
    objects = ["apple", "mug", "cup", "knife", "spatula", "plate", "bowl", "pan", "egg"]
    places = ["cabinet", "countertop", "drawer", "fridge", "microwave", "shelf", "sinkbasin"]
    items = []
    for i in range(n):
        obj = rng.choice(objects)
        steps = []
        for _ in range(rng.randint(2, max_steps)):
            place, k = rng.choice(places), rng.randint(1, 4)
            thought = f"The {obj} may be in the {place} {k}." if rng.random() < 0.4 else ""
            seen = ", ".join(f"a {rng.choice(objects)} {rng.randint(1, 3)}" for _ in range(3))
            steps.append(
                Step(f"go to {place} {k}", f"On the {place} {k}, you see {seen}.", thought)
            )
        won = rng.random() < 0.5
        trajectory = _trajectory(f"t{i}", f"Your task is to: put a {obj} in shelf.", steps, won)
        items.append(WeightedTrajectory(1.0 if won else -0.5, trajectory))
    return items
