"""`a3t status|report|export` over a store filled by the round loop (fakes), and their errors."""

import argparse
import json

from a3t_controller.cli import experiment_config, main
from tests.unit.controller.test_rounds import make


async def test_status_report_export(tmp_path, capsys):
    store, runner, exp, *_ = make(tmp_path)
    await runner.run(exp.experiment_id)
    store.close()
    assert main(["--workdir", str(tmp_path), "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("t ") and "succeeded" in out and exp.experiment_id in out
    assert main(["--workdir", str(tmp_path), "report", "t", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "| base | done |" in out and (tmp_path / "p.png").stat().st_size > 1000
    assert (
        main(["--workdir", str(tmp_path), "export", "t", "--out", str(tmp_path / "x.jsonl")]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["trajectories"] == len((tmp_path / "x.jsonl").read_text().splitlines()) > 0


def test_errors_are_clear(tmp_path, capsys):
    assert main(["--workdir", str(tmp_path), "status"]) == 2
    assert "no trajectory store" in capsys.readouterr().err
    make(tmp_path)[0].close()
    assert main(["--workdir", str(tmp_path), "report", "nope"]) == 2
    assert "experiment 'nope' not found" in capsys.readouterr().err


async def test_global_flags_work_after_the_subcommand_too(tmp_path, capsys, monkeypatch):
    store, runner, exp, *_ = make(tmp_path)
    await runner.run(exp.experiment_id)
    store.close()
    monkeypatch.chdir(tmp_path)  # the default workdir, var/run, has no store here
    monkeypatch.delenv("A3T_WORKDIR", raising=False)
    assert main(["report", "t", "--workdir", str(tmp_path), "--log-level", "ERROR"]) == 0
    assert "| base | done |" in capsys.readouterr().out
    assert main(["status", "--workdir", str(tmp_path)]) == 0
    assert exp.experiment_id in capsys.readouterr().out
    # Given before the subcommand, the subcommand's own (unset) flag does not replace it.
    assert main(["--workdir", str(tmp_path), "status"]) == 0
    assert exp.experiment_id in capsys.readouterr().out
    assert main(["status"]) == 2
    assert "no trajectory store at var/run/a3t.sqlite" in capsys.readouterr().err


def test_an_unreadable_experiment_file_is_a_clear_error(tmp_path, capsys):
    latin1 = tmp_path / "exp.yaml"
    latin1.write_bytes(b"name: caf\xe9\n")
    for path in (latin1, tmp_path / "missing.yaml"):
        code = main(["--workdir", str(tmp_path), "run", "--experiment", str(path)])
        assert code == 2
        assert f"--experiment {path}: cannot read it" in capsys.readouterr().err


def run_args(**given) -> argparse.Namespace:
    """`a3t run`'s parsed flags, as unset as argparse leaves them, with `given`."""
    unset = dict.fromkeys(
        ("experiment", "data_root", "train_split", "eval_split", "train_count", "eval_count")
    )
    unset |= dict.fromkeys(("name", "rounds", "base_model", "env"))
    return argparse.Namespace(**{**unset, "level": 1, "seed": 0, "set": [], **given})


def test_task_counts_size_generated_splits_and_sample_real_ones():
    config = experiment_config(run_args())
    assert (config.train_split, config.eval_split) == ("gen_l1_s0_n16", "gen_l1_s1000_n8")
    assert (config.max_train_tasks, config.max_eval_tasks) == (0, 0)
    config = experiment_config(run_args(train_count=4, eval_count=2, seed=3))
    assert (config.train_split, config.eval_split) == ("gen_l1_s3_n4", "gen_l1_s1003_n2")
    assert (config.max_train_tasks, config.max_eval_tasks) == (0, 0)
    # With --data-root the counts sample the real splits (all of them when not given).
    config = experiment_config(run_args(data_root="data"))
    assert (config.train_split, config.eval_split) == ("valid_train", "valid_seen")
    assert (config.max_train_tasks, config.max_eval_tasks) == (0, 0)
    config = experiment_config(run_args(data_root="data", train_count=32, eval_count=24))
    assert (config.max_train_tasks, config.max_eval_tasks) == (32, 24)
    # --set has the last word, as for every field.
    config = experiment_config(run_args(data_root="d", eval_count=24, set=["max_eval_tasks=5"]))
    assert config.max_eval_tasks == 5
