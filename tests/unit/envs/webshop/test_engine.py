"""WebShopEnvironment: splits on disk, task listing, loading, generating; the scripted shopper."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from a3t.envs.base import TaskRecord
from a3t.envs.webshop import splits
from a3t.envs.webshop.engine import WebShopEnvironment
from a3t.envs.webshop.oracle import ScriptedShopper, play
from a3t.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.unit.envs.webshop import scenario


@pytest.fixture
def env(tmp_path: Path) -> WebShopEnvironment:
    env = WebShopEnvironment(tmp_path)
    assert env.generate("train", 2, 7, 20, ()) == 20
    return env


def test_split_files(env: WebShopEnvironment, tmp_path: Path) -> None:
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["catalog.json", "goals.json"]
    goals = json.loads((tmp_path / "train" / "goals.json").read_text("utf-8"))
    assert goals["format"] == "a3t.webshop.goals/1"
    assert goals["source"] == {
        "generator": "a3t.envs.webshop.generate",
        "level": 2,
        "seed": 7,
        "count": 20,
        "task_types": [],
    }
    catalog = json.loads((tmp_path / "train" / "catalog.json").read_text("utf-8"))
    assert len(catalog["products"]) == 180
    assert sorted(catalog["products"][0]) == [
        "asin",
        "attributes",
        "category",
        "description",
        "features",
        "name",
        "options",
        "price",
        "price_text",
        "product_category",
        "query",
        "rating",
        "reviews",
    ]


def test_list_tasks(env: WebShopEnvironment) -> None:
    tasks = env.list_tasks("train")
    assert len(tasks) == 20
    by_ref = sorted(tasks, key=lambda t: int(t.ref))
    assert [t.ref for t in by_ref] == [str(i) for i in range(20)]
    assert [t.task_type for t in by_ref[:3]] == ["beauty", "electronics", "fashion"]
    assert all(t.task_id == splits.task_id(env.goal(t)) and t.split == "train" for t in tasks)
    assert [t.task_id for t in tasks] == sorted(t.task_id for t in tasks)


def test_unknown_and_bad_split_names(env: WebShopEnvironment) -> None:
    with pytest.raises(NotFound, match=r"split 'test' not found .*available splits: \['train'\]"):
        env.list_tasks("test")
    for bad in ("../train", "a/b", ""):
        with pytest.raises(InvalidArgument, match="split"):
            env.list_tasks(bad)
    with pytest.raises(NotFound, match="available splits: none"):
        WebShopEnvironment(Path("/nonexistent/webshop")).list_tasks("train")


def test_load_plays_the_goal(env: WebShopEnvironment) -> None:
    task = env.list_tasks("train")[0]
    instruction, state = env.load(task).reset()
    assert instruction == env.goal(task).instruction
    assert state.observation == f"WebShop [SEP] Instruction: [SEP] {instruction} [SEP] Search"
    assert state.admissible == ()


def test_load_refuses_a_bad_ref(env: WebShopEnvironment) -> None:
    for ref in ("20", "x", "-1"):
        with pytest.raises(FailedPrecondition, match="not a goal index"):
            env.load(TaskRecord("B0-00000000", "beauty", "train", ref))


def test_scripted_shopper_buys_every_target(env: WebShopEnvironment) -> None:
    rewards = []
    for task in env.list_tasks("train"):
        actions, state = play(env.load(task), env.goal(task))
        rewards.append((state.reward, state.won, state.done))
        assert actions[0].startswith("search[") and actions[-1] == "click[Buy Now]"
    assert rewards == [(1.0, True, True)] * 20


def test_scripted_shopper_pages_and_searches_again() -> None:
    shop = tuple(
        scenario.product(f"B0PAGE{i:04d}", f"Brand{i} Shampoo", 5.0 + i, ("dry hair",))
        for i in range(25)
    )
    # The target is on no page of the first search (it lacks its words): Next, Next, back, title.
    target = scenario.product(
        "B0TARGET00",
        "Zed Cleanser",
        9.0,
        ("gentle",),
        query="cleanser",
        product_category="Beauty & Personal Care › Skin Care › Cleansers",
    )
    goal = replace(scenario.SHAMPOO_GOAL, asin=target.asin, name=target.name, options=())
    actions, state = play(scenario.game((*shop, target), goal), goal)
    assert actions == [
        "search[shampoo sulfate free dry hair]",
        "click[Next >]",
        "click[Next >]",
        "click[Back to Search]",
        "search[Zed Cleanser]",
        "click[B0TARGET00]",
        "click[Buy Now]",
    ]
    assert state.done
    assert ScriptedShopper(goal).next_action("", ("click[< Prev]", "click[B0TARGET00]")) == (
        "click[B0TARGET00]"
    )


def test_generate_is_idempotent_and_refuses_other_content(env: WebShopEnvironment) -> None:
    before = (env.data_root / "train" / "goals.json").read_bytes()
    assert env.generate("train", 2, 7, 20, ()) == 20
    assert (env.data_root / "train" / "goals.json").read_bytes() == before
    for args in ((2, 8, 20, ()), (1, 7, 20, ()), (2, 7, 21, ()), (2, 7, 20, ("food",))):
        with pytest.raises(FailedPrecondition, match="split 'train' already exists"):
            env.generate("train", *args)
    assert (env.data_root / "train" / "goals.json").read_bytes() == before


def test_generate_task_types(tmp_path: Path) -> None:
    env = WebShopEnvironment(tmp_path)
    assert env.generate("food", 1, 0, 4, ("food",)) == 4
    assert {t.task_type for t in env.list_tasks("food")} == {"food"}


@pytest.mark.parametrize(
    ("split", "level", "count", "types", "field"),
    [
        ("ok", 9, 5, (), "level"),
        ("ok", 1, 0, (), "count"),
        ("ok", 1, 5, ("garden",), "task_types"),
        ("../up", 1, 5, (), "split"),
    ],
)
def test_generate_bad_arguments(
    tmp_path: Path, split: str, level: int, count: int, types: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidArgument, match=field):
        WebShopEnvironment(tmp_path).generate(split, level, 0, count, types)
    assert list(tmp_path.iterdir()) == []


def test_unusable_split_files(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "goals.json").write_text("{not json")
    (tmp_path / "broken" / "catalog.json").write_text("{}")
    with pytest.raises(FailedPrecondition, match=r"split 'broken' .* is unusable"):
        WebShopEnvironment(tmp_path).list_tasks("broken")


def test_split_is_read_once_per_environment(env: WebShopEnvironment) -> None:
    tasks = env.list_tasks("train")
    first, second = env.load(tasks[0]), env.load(tasks[1])
    assert first._search == second._search  # one index for the split's games
    assert env.list_tasks("train") == tasks


def test_warm_up_imports_bm25s(tmp_path: Path) -> None:
    WebShopEnvironment(tmp_path).warm_up()
    assert "bm25s" in sys.modules


def test_task_ids_name_goals_by_content() -> None:
    goal = scenario.SHAMPOO_GOAL
    digest = hashlib.sha1(json.dumps(goal.to_json(), sort_keys=True).encode()).hexdigest()
    assert splits.task_id(goal) == f"{goal.asin}-{digest[:8]}"
    assert splits.task_id(replace(goal)) == splits.task_id(goal)
    assert splits.task_id(replace(goal, price_upper=goal.price_upper + 1)) != splits.task_id(goal)
