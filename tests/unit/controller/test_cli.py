"""`a3t status|report|export` over a store filled by the round loop (fakes), and their errors."""

import argparse
import asyncio
import json

import grpc
import pytest

from a3t_controller.cli import experiment_config, main
from a3t_controller.patience import ServiceFailed
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


def test_a_data_root_that_is_not_a_directory_is_refused_before_any_service_starts(
    tmp_path, capsys, monkeypatch
):
    async def no_processes(specs, logs, timeout):
        raise AssertionError("a service was started")

    monkeypatch.setattr("a3t_controller.cli._start", no_processes)
    missing = tmp_path / "nowhere"
    for flag in ("--data-root", "--eval-data-root"):
        code = main(["--workdir", str(tmp_path), "run", flag, str(missing)])
        assert code == 2
        assert f"{flag} {missing}: not a directory" in capsys.readouterr().err


def evaluated_store(tmp_path, monkeypatch):
    """A store whose experiment `t` ran (fakes), and `a3t evaluate` wired to the same fakes
    instead of starting service processes; returns the fake env."""
    store, runner, exp, env, *_ = make(tmp_path)
    asyncio.run(runner.run(exp.experiment_id))
    store.close()

    async def no_processes(specs, logs, timeout):
        assert sorted(specs) == ["env", "policy"]  # what a3t evaluate starts, nothing more
        return {}

    monkeypatch.setattr("a3t_controller.cli._start", no_processes)
    monkeypatch.setattr("a3t_controller.wiring.build_services", lambda *a, **kw: runner._svc)
    return env


def test_evaluate_records_and_prints_an_evaluation_apart_from_the_rounds(
    tmp_path, capsys, monkeypatch
):
    evaluated_store(tmp_path, monkeypatch)
    argv = ["--workdir", str(tmp_path), "evaluate", "t", "--round", "0", "--no-ground-actions"]
    assert main([*argv, "--count", "2"]) == 0
    out = capsys.readouterr().out
    # The held-out split, 1 task of each type: round 0's adapter wins T10 (even) only.
    assert out.startswith(
        "t: t-round-0 (round 0) on eval, grounding off: 2 tasks, success 50.0%, admissible "
        "actions 14.3% (look_at_obj_in_light 100.0%, pick_and_place_simple 0.0%)"
    )
    assert "phase 'evaluate:eval:2:ungrounded' of round 0" in out
    # Without --round: the promoted adapter (round 1's).
    assert main(["--workdir", str(tmp_path), "evaluate", "t"]) == 0
    assert "t: t-round-1 (round 1) on eval, grounding on: 4 tasks" in capsys.readouterr().out
    assert main(["--workdir", str(tmp_path), "report", "t"]) == 0
    report = capsys.readouterr().out
    assert "| 0 (t-round-0) | eval | off | 2 | 50.0% | 14.3% |" in report
    # Grounded, round 1's adapter wins its odd tasks too (the fake grounds them to the key).
    assert "| 1 (t-round-1) | eval | on | 4 | 100.0% | 50.0% |" in report


def test_evaluate_argument_errors_name_what_was_wrong(tmp_path, capsys, monkeypatch):
    def evaluate(*extra):
        return main(["--workdir", str(tmp_path), "evaluate", *extra])

    assert evaluate("t") == 2
    assert "no trajectory store at" in capsys.readouterr().err
    env = evaluated_store(tmp_path, monkeypatch)
    assert evaluate("nope") == 2
    assert "a3t evaluate: experiment 'nope' not found" in capsys.readouterr().err
    assert evaluate("t", "--round", "5") == 2
    err = capsys.readouterr().err
    assert "experiment 't' has no adapter of round 5 (rounds with one: 0, 1); --round base" in err
    assert evaluate("t", "--count", "-1") == 2
    assert "--count must be >= 0" in capsys.readouterr().err
    for bad, why in (("zero", "'zero' is not a round"), ("-2", "-2 is not a round: rounds")):
        with pytest.raises(SystemExit) as exit_:
            evaluate("t", "--round", bad)
        assert exit_.value.code == 2
        assert f"argument --round: {why}" in capsys.readouterr().err

    async def unknown_split(env_name, split):
        raise ServiceFailed(
            "env",
            "127.0.0.1:1",
            grpc.StatusCode.NOT_FOUND,
            f"split {split!r} not found; available splits: eval, train",
        )

    monkeypatch.setattr(env, "list_tasks", unknown_split)
    assert evaluate("t", "--split", "valid_unseen") == 2
    err = capsys.readouterr().err
    assert "a3t evaluate: --split 'valid_unseen': not found in the generated games under" in err
    assert "available splits: eval, train" in err


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


def test_a_curriculum_run_evaluates_every_levels_held_out_games():
    config = experiment_config(
        run_args(level=1, set=["curriculum_levels=[1, 5, 2]", "extra_eval_splits=[valid_unseen]"])
    )
    assert config.eval_split == "gen_l1_s1000_n8"
    assert config.extra_eval_splits == ("gen_l5_s1000_n8", "gen_l2_s1000_n8", "valid_unseen")
    assert experiment_config(run_args()).extra_eval_splits == ()
