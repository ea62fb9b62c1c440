"""Importing WebShop's release files, on a tiny hand-written release in their format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a3t.envs.webshop import splits
from a3t.envs.webshop.engine import WebShopEnvironment
from a3t.envs.webshop.oracle import play
from a3t.envs.webshop.release import import_release
from a3t.envs.webshop.release import main as release_main
from a3t.errors import FailedPrecondition, NotFound

SHAMPOO = {
    "asin": "B01TEAOIL1",
    "name": "Nature's Tea Tree Oil Shampoo",
    "full_description": "A shampoo with tea tree oil.",
    "small_description": ["Tea tree oil", "Gentle daily wash"],
    "pricing": "$12.99",
    "customization_options": {
        "Size": [
            {"value": "8 Fl Oz", "image": None},
            {"value": "16 Fl Oz/Pack of 2", "image": None},
        ],
        "Scent": None,
    },
    "images": ["https://example.com/1.jpg"],
    "query": "Shampoo ",
    "category": "beauty",
    "product_category": "Beauty & Personal Care › Hair Care › Shampoos",
}
SOCKS = {
    "asin": "B02RANGE01",
    "name": "Wool Socks for Men",
    "full_description": "",
    "small_description": "Warm wool socks",
    "pricing": "$10.00 - $20.00",
    "customization_options": {},
    "images": [],
    "query": "socks",
    "category": "fashion",
    "product_category": "Clothing, Shoes & Jewelry › Men › Socks",
}
TABLE = {
    "asin": "B03NOPRICE",
    "name": "Oak Side Table",
    "full_description": "Small table.",
    "small_description": [],
    "pricing": "",
    "customization_options": None,
    "images": [],
    "query": "side table",
    "category": "furniture",
    "product_category": "Home & Kitchen › Furniture › Tables",
}
SKIPPED = [{**SHAMPOO, "asin": "nan"}, {**SHAMPOO, "name": "a repeat"}, {**TABLE, "asin": "B" * 11}]
ATTRIBUTES = {
    "B01TEAOIL1": {"attributes": ["tea tree", "sulfate free"], "instruction": "Find me shampoo"},
    "B02RANGE01": {"attributes": ["machine wash"]},
}
HUMAN = {
    "B01TEAOIL1": [
        {
            "asin": "B01TEAOIL1",
            "instruction": "i need a sulfate free tea tree shampoo in 16 fl oz.",
            "instruction_attributes": ["sulfate free", "tea tree"],
            "instruction_options": ["16 fl oz | pack of 2"],
        },
        {"instruction": "shampoo please", "instruction_attributes": [], "instruction_options": []},
    ],
    "B02RANGE01": [
        {
            "instruction": "i want warm wool socks that are machine wash",
            "instruction_attributes": ["machine wash"],
            "instruction_options": [],
        }
    ],
    "B09NOTHERE": [
        {"instruction": "x", "instruction_attributes": ["y"], "instruction_options": []}
    ],
}


def write_release(folder: Path, products: list[dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "items_shuffle_1000.json": [SHAMPOO, SOCKS, *SKIPPED, TABLE]
        if products is None
        else products,
        "items_ins_v2_1000.json": ATTRIBUTES,
        "items_human_ins.json": HUMAN,
    }
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data, ensure_ascii=False))
    return folder


def test_import_converts_products_and_goals(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    assert import_release(write_release(tmp_path / "data"), root, "release") == 2
    env = WebShopEnvironment(root)
    tasks = sorted(env.list_tasks("release"), key=lambda t: int(t.ref))
    assert [(t.task_type, t.split, t.ref) for t in tasks] == [
        ("beauty", "release", "0"),
        ("fashion", "release", "1"),
    ]
    shampoo_goal, socks_goal = (env.goal(t) for t in tasks)
    assert [t.task_id for t in tasks] == [splits.task_id(g) for g in (shampoo_goal, socks_goal)]
    assert shampoo_goal.instruction == (
        "i need a sulfate free tea tree shampoo in 16 fl oz, and price lower than 40.00 dollars"
    )
    assert (shampoo_goal.attributes, shampoo_goal.options) == (
        ("sulfate free", "tea tree"),
        ("16 fl oz | pack of 2",),
    )
    assert (shampoo_goal.query, shampoo_goal.name) == ("shampoo", "Nature's Tea Tree Oil Shampoo")
    assert socks_goal.instruction == (
        "i want warm wool socks that are machine wash, and price lower than 50.00 dollars"
    )

    catalog = json.loads((root / "release" / "catalog.json").read_text("utf-8"))["products"]
    assert [p["asin"] for p in catalog] == ["B01TEAOIL1", "B02RANGE01", "B03NOPRICE"]
    shampoo, socks, table = catalog
    assert (shampoo["price"], shampoo["price_text"], shampoo["rating"]) == (12.99, "$12.99", "N.A.")
    assert shampoo["options"] == [{"name": "size", "values": ["8 fl oz", "16 fl oz | pack of 2"]}]
    assert shampoo["features"] == ["Tea tree oil", "Gentle daily wash"]
    assert shampoo["attributes"] == ["tea tree", "sulfate free"]
    # A price range: the shown range, and a price drawn in it from the seed and the ASIN.
    assert (socks["price"], socks["price_text"]) == (14.82, "$10.0 to $20.0")
    assert socks["features"] == ["Warm wool socks"]
    assert (table["price"], table["price_text"], table["attributes"]) == (100.0, "$100.0", [])
    assert table["options"] == [] and table["reviews"] == []


def test_imported_goals_are_playable(tmp_path: Path) -> None:
    import_release(write_release(tmp_path / "data"), tmp_path / "envs", "release")
    env = WebShopEnvironment(tmp_path / "envs")
    task = env.list_tasks("release")[0]
    actions, state = play(env.load(task), env.goal(task))
    assert actions == [
        "search[shampoo sulfate free tea tree]",
        "click[B01TEAOIL1]",
        "click[16 fl oz | pack of 2]",
        "click[Buy Now]",
    ]
    assert (state.reward, state.won) == (1.0, True)


def test_import_again_and_conflicts(tmp_path: Path) -> None:
    data = write_release(tmp_path / "data")
    assert import_release(data, tmp_path / "envs", "release") == 2
    assert import_release(data, tmp_path / "envs", "release") == 2  # the same files: a no-op
    with pytest.raises(FailedPrecondition, match="already exists"):
        import_release(data, tmp_path / "envs", "release", seed=1)  # other price bounds


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"items_shuffle_1000\.json"):
        import_release(tmp_path, tmp_path / "envs", "release")
    broken = write_release(tmp_path / "broken", products=[{"asin": "B01TEAOIL1"}])
    with pytest.raises(FailedPrecondition, match="WebShop's format"):
        import_release(broken, tmp_path / "envs", "release")
    unrelated = write_release(tmp_path / "unrelated", products=[TABLE])
    with pytest.raises(FailedPrecondition, match="nothing to import"):
        import_release(unrelated, tmp_path / "envs", "release")
    assert not (tmp_path / "envs").exists()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_release(tmp_path / "data")
    assert release_main([str(data), str(tmp_path / "envs"), "release"]) == 0
    assert capsys.readouterr().out.startswith("split release: 2 goals under ")
    assert release_main([str(tmp_path / "nowhere"), str(tmp_path / "envs"), "other"]) == 2
    assert "items_shuffle_1000.json" in capsys.readouterr().err
