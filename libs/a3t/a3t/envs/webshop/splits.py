"""A split on disk: `<data_root>/<split>/catalog.json` and `goals.json`.

    catalog.json  {"format": "a3t.webshop.catalog/1", "products": [<Product.to_json()>, ...]}
    goals.json    {"format": "a3t.webshop.goals/1", "source": {...how it was made...},
                   "goals": [<Goal.to_json()>, ...]}

Task i of a split is goal i (task_id "g00012" for i = 12). Files are written once: catalogue
first, goals last and each by rename, so a directory with goals.json is complete. Writing a split
again with the same bytes is a no-op; with other bytes it is refused (a split's tasks never
change under the runs that name them).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a3t.envs.base import check_split_name
from a3t.envs.webshop.catalog import Goal, Product
from a3t.errors import FailedPrecondition, NotFound

CATALOG_FILE = "catalog.json"
GOALS_FILE = "goals.json"
CATALOG_FORMAT = "a3t.webshop.catalog/1"
GOALS_FORMAT = "a3t.webshop.goals/1"


@dataclass(frozen=True)
class SplitData:
    products: tuple[Product, ...]
    goals: tuple[Goal, ...]
    by_asin: Mapping[str, Product] = field(repr=False)


def task_id(goal: Goal) -> str:
    """A goal's task id: its target product and a digest of the whole goal. It names the goal
    by content, not by position, so the same goal in two splits has the same id (the
    controller's held-out check compares ids) and two different goals never share one."""
    digest = hashlib.sha1(json.dumps(goal.to_json(), sort_keys=True).encode()).hexdigest()
    return f"{goal.asin}-{digest[:8]}"


def render(
    products: Sequence[Product], goals: Sequence[Goal], source: Mapping[str, Any]
) -> tuple[str, str]:
    """The two files' text (deterministic: same records, same bytes)."""
    catalog = {"format": CATALOG_FORMAT, "products": [p.to_json() for p in products]}
    goal_file = {
        "format": GOALS_FORMAT,
        "source": dict(source),
        "goals": [g.to_json() for g in goals],
    }
    return _dump(catalog), _dump(goal_file)


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def list_splits(data_root: Path) -> list[str]:
    """Names of the complete splits under `data_root`, sorted."""
    if not data_root.is_dir():
        return []
    return sorted(p.name for p in data_root.iterdir() if (p / GOALS_FILE).is_file())


def write(data_root: Path, split: str, catalog_text: str, goals_text: str) -> None:
    """Writes a split; FailedPrecondition when it exists with other content."""
    check_split_name(split)
    split_dir = data_root / split
    if split_dir.exists() and any(split_dir.iterdir()):
        have = [split_dir / CATALOG_FILE, split_dir / GOALS_FILE]
        if all(p.is_file() for p in have) and [p.read_text("utf-8") for p in have] == [
            catalog_text,
            goals_text,
        ]:
            return
        raise FailedPrecondition(
            f"split {split!r} already exists under {split_dir} with other tasks; pick another "
            "split name (a split's tasks never change once written)"
        )
    split_dir.mkdir(parents=True, exist_ok=True)
    for name, text in ((CATALOG_FILE, catalog_text), (GOALS_FILE, goals_text)):
        fd, tmp = tempfile.mkstemp(dir=split_dir, prefix=f".{name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, split_dir / name)


def read(data_root: Path, split: str) -> SplitData:
    """Loads a split; NotFound naming the known splits, FailedPrecondition for bad files."""
    check_split_name(split)
    split_dir = data_root / split
    if not (split_dir / GOALS_FILE).is_file():
        known = list_splits(data_root)
        raise NotFound(
            f"split {split!r} not found under {data_root}; available splits: {known or 'none'} "
            "(generate one, or import the WebShop release files)"
        )
    try:
        catalog = json.loads((split_dir / CATALOG_FILE).read_text("utf-8"))
        goal_file = json.loads((split_dir / GOALS_FILE).read_text("utf-8"))
        if catalog.get("format") != CATALOG_FORMAT or goal_file.get("format") != GOALS_FORMAT:
            raise ValueError(f"expected formats {CATALOG_FORMAT} and {GOALS_FORMAT}")
        products = tuple(Product.from_json(p) for p in catalog["products"])
        goals = tuple(Goal.from_json(g) for g in goal_file["goals"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FailedPrecondition(
            f"split {split!r} under {split_dir} is unusable ({type(e).__name__}: {e}); "
            f"regenerate it into a new split"
        ) from e
    by_asin = {p.asin: p for p in products}
    missing = sorted({g.asin for g in goals} - by_asin.keys())
    if missing:
        raise FailedPrecondition(
            f"split {split!r}: goals name products missing from {CATALOG_FILE}: {missing[:5]}"
        )
    return SplitData(products, goals, by_asin)
