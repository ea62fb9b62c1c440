"""`a3t status|report|export` over a store filled by the round loop (fakes), and their errors."""

import json

from a3t_controller.cli import main
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
