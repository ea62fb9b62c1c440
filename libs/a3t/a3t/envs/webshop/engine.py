"""WebShop as an a3t environment (a3t.envs.base.Environment): splits on disk, one game per goal.

    env = WebShopEnvironment(Path("var/envs/webshop"))
    env.generate("train", level=1, seed=0, count=200, task_types=())
    task = env.list_tasks("train")[0]  # TaskRecord("B0A1C2D3E4-1f0e2d3c", "beauty", "train", "7")
    instruction, state = env.load(task).reset()

A split is `<data_root>/<split>/catalog.json` + `goals.json` (splits.py), made by `generate` or
imported from WebShop's release files (release.py). A task is one goal: task_id its target's
ASIN and a digest of the goal (splits.task_id), task_type its category, ref its index. Each
split is read and its search index built once per Environment and shared by all its games (the
worker's engine outlives its games).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from a3t.envs.base import TaskRecord, check_split_name
from a3t.envs.webshop import splits
from a3t.envs.webshop.catalog import Goal
from a3t.envs.webshop.generate import check_arguments, generate_split
from a3t.envs.webshop.pages import WebShopGame
from a3t.envs.webshop.search import ProductSearch
from a3t.errors import FailedPrecondition

logger = logging.getLogger(__name__)


@dataclass
class _LoadedSplit:
    data: splits.SplitData
    search: ProductSearch | None = None  # built on the first load: listing tasks never needs it


class WebShopEnvironment:
    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)
        self._splits: dict[str, _LoadedSplit] = {}
        self._lock = threading.Lock()  # the env server may list tasks from several threads

    def _split(self, split: str) -> _LoadedSplit:
        with self._lock:
            if split not in self._splits:
                self._splits[split] = _LoadedSplit(splits.read(self.data_root, split))
            return self._splits[split]

    def list_tasks(self, split: str) -> list[TaskRecord]:
        goals = self._split(split).data.goals
        tasks = [
            TaskRecord(splits.task_id(g), g.category, split, str(i)) for i, g in enumerate(goals)
        ]
        return sorted(tasks, key=lambda t: t.task_id)

    def goal(self, task: TaskRecord) -> Goal:
        """The goal behind a task (what a scripted shopper or a report needs)."""
        goals = self._split(task.split).data.goals
        if not task.ref.isdigit() or int(task.ref) >= len(goals):
            raise FailedPrecondition(
                f"task {task.task_id!r}: ref {task.ref!r} is not a goal index of split "
                f"{task.split!r} (0-{len(goals) - 1}); list the split's tasks again"
            )
        return goals[int(task.ref)]

    def load(self, task: TaskRecord) -> WebShopGame:
        goal = self.goal(task)
        loaded = self._split(task.split)
        with self._lock:
            if loaded.search is None:
                loaded.search = ProductSearch(loaded.data.products)
                logger.info(
                    "indexed %d products of split %s", len(loaded.data.products), task.split
                )
            search = loaded.search
        return WebShopGame(goal, loaded.data.by_asin, search.search)

    def generate(
        self, split: str, level: int, seed: int, count: int, task_types: tuple[str, ...]
    ) -> int:
        """Writes a generated split (goals over the categories `task_types`, all when empty)
        and returns its size; the same arguments again find the same split."""
        check_split_name(split)
        check_arguments(level, count, task_types)
        made = generate_split(level, seed, count, task_types)
        source = {
            "generator": "a3t.envs.webshop.generate",
            "level": level,
            "seed": seed,
            "count": count,
            "task_types": sorted(set(task_types)),
        }
        splits.write(self.data_root, split, *splits.render(made.products, made.goals, source))
        return len(made.goals)

    def warm_up(self) -> None:
        import bm25s  # noqa: F401  (about 0.2 s; the first search would pay it otherwise)
