"""The number line's engine: what the env service runs for `env: numberline`."""

from __future__ import annotations

from pathlib import Path

from a3t.envs.base import GameState, TaskRecord
from a3t.errors import FailedPrecondition, NotFound, Unimplemented

# Targets per split; a task's id is its target, e.g. "t+2".
SPLITS = {"train": (-3, -2, -1, 1, 2, 3), "test": (-4, 4)}
ACTIONS = ("look", "step left", "step right")


class NumberLineGame:
    def __init__(self, target: int):
        self.target = target
        self.position = 0
        self.done = False

    def reset(self) -> tuple[str, GameState]:
        self.position, self.done = 0, False
        observation = f"You stand at 0 on a number line.\nYour task is to: reach {self.target}."
        return f"reach {self.target}", GameState(observation, ACTIONS, 0.0, False, False)

    def step(self, action: str) -> GameState:
        if self.done:
            raise FailedPrecondition("the episode is over; reset to play again")
        if action not in ACTIONS:
            return GameState("Nothing happens.", ACTIONS, 0.0, False, False)
        self.position += {"step left": -1, "step right": 1}.get(action, 0)
        self.done = self.position == self.target
        text = f"You are at {self.position}." + (" You reached the target." if self.done else "")
        return GameState(text, ACTIONS, float(self.done), self.done, self.done)


class NumberLine:
    """Tasks come from `SPLITS`, so the data root is not read."""

    def __init__(self, data_root: Path):
        self.data_root = data_root

    def list_tasks(self, split: str) -> list[TaskRecord]:
        if split not in SPLITS:
            raise NotFound(f"split {split!r} not found; splits: {sorted(SPLITS)}")
        tasks = [
            TaskRecord(f"t{t:+d}", "left" if t < 0 else "right", split, ref=str(t))
            for t in SPLITS[split]
        ]
        return sorted(tasks, key=lambda t: t.task_id)

    def load(self, task: TaskRecord) -> NumberLineGame:
        return NumberLineGame(int(task.ref))

    def generate(self, split, level, seed, count, task_types) -> int:
        raise Unimplemented("the number line has no task generator")

    def warm_up(self) -> None:
        pass
