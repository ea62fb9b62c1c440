"""`a3t export` writes what the `datasets` library loads: one row per stored trajectory, steps as
a list of records, every row the same schema."""

import json
import os

from a3t_controller.report import export_jsonl
from tests.unit.controller.test_rounds import make


async def test_export_loads_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # local files only; nothing may be fetched
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets

    store, runner, exp, *_ = make(tmp_path)
    await runner.run(exp.experiment_id)
    out = tmp_path / "export.jsonl"
    n = export_jsonl(store, exp.experiment_id, out)
    table = datasets.load_dataset(
        "json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert table.num_rows == n == store.count("trajectories", exp.experiment_id)
    first = json.loads(out.read_text().splitlines()[0])
    assert set(table.column_names) == set(first)
    won = [row for row in table if row["won"]]
    assert won and all(isinstance(row["steps"], list) and row["steps"] for row in won)
    assert {"action", "thought", "source"} <= set(won[0]["steps"][0])
    assert os.listdir(tmp_path / "hf-cache")  # the cache went where we said, not to $HOME
