"""The curriculum check: one `a3t run` climbing generated levels, measured on every level's
held-out games and on a fixed stratified subset of real ALFWorld valid_unseen after every round.

    .venv/bin/python bench/curriculum_check.py [--write] [--report-only]

Real service processes, SmolLM2 on the CPU. Training games are generated per level (the
curriculum: one listed level up after a round whose attempt success reaches the threshold);
the env also serves ../shared/data/alfworld read-only (`a3t run --eval-data-root`), and
valid_unseen is evaluated as an extra split (`extra_eval_splits`, a seeded sample of
`--unseen-count` games stratified by task type). Random-walk baselines per level and on the
same real games, for the same step budget. Work directory var/bench/learning/curriculum (an
existing one is resumed). With --write the table replaces the "## Curriculum check" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
from datetime import date
from pathlib import Path

from docs_section import replace_section
from learning_check import ROOT, measured_run, pct, phase_cpu, random_agent

SECTION = "## Curriculum check: level per round, every level held out, real valid_unseen"
DATA = ROOT.parent / "shared" / "data" / "alfworld"
LEVELS = (1, 5, 2)
MAX_STEPS = 10  # the make-run profile's


def run(workdir: Path, args: argparse.Namespace) -> dict:
    cmd = [
        str(ROOT / ".venv/bin/a3t"),
        *("--workdir", str(workdir), "run", "--name", "curriculum", "--rounds", str(args.rounds)),
        *("--level", str(LEVELS[0]), "--eval-count", str(args.eval_count)),
        *("--eval-data-root", str(DATA)),
        *("--set", f"curriculum_levels={list(LEVELS)}"),
        *("--set", f"curriculum_threshold={args.threshold}"),
        *("--set", f"curriculum_train_count={args.train_count}"),
        *("--set", "extra_eval_splits=[valid_unseen]"),
        *("--set", f"max_extra_eval_tasks={args.unseen_count}"),
    ]
    result = measured_run(cmd)
    (workdir / "result.json").write_text(json.dumps(result, indent=1))
    return result


def read(workdir: Path) -> tuple[dict, list[dict], dict[tuple[int, str], tuple[float, int]]]:
    """The experiment row, its rounds (level and stats) and every evaluation by (round, split)."""
    db = sqlite3.connect(workdir / "a3t.sqlite")
    eid, state, error, config = db.execute(
        "SELECT experiment_id, state, error_message, config_json FROM experiments"
    ).fetchone()
    config = json.loads(config)
    rounds = [
        {"round": r, "level": lv, "stats": json.loads(s)}
        for r, lv, s in db.execute(
            "SELECT round, level, stats_json FROM rounds WHERE experiment_id = ? ORDER BY round",
            (eid,),
        )
    ]
    evals = {
        (r, config["eval_split"]): (s, n)
        for r, s, n in db.execute(
            "SELECT round, success_rate, n_tasks FROM evaluations WHERE experiment_id = ?", (eid,)
        )
    }
    evals |= {
        (r, split): (s, n)
        for r, split, s, n in db.execute(
            "SELECT round, split, success_rate, n_tasks FROM extra_evaluations WHERE "
            "experiment_id = ? AND grounded = 1",
            (eid,),
        )
    }
    exp = {"state": state, "error": error, "config": config}
    return exp, rounds, evals


def section(workdir: Path, result: dict, episodes: int) -> str:
    exp, rounds, evals = read(workdir)
    config = exp["config"]
    eval_count = int(config["eval_split"].rsplit("_n", 1)[1])  # a3t run's gen_l1_s1000_n<N>
    held_out = {lv: f"gen_l{lv}_s1000_n{eval_count}" for lv in LEVELS}
    unseen = config["max_extra_eval_tasks"]
    envs = workdir / "envs" / "alfworld"
    randoms = [
        random_agent("alfworld", envs, split, MAX_STEPS, episodes, seed=0)[0]
        for split in held_out.values()
    ]
    # The same stratified sample the run evaluated (a3t_controller.rounds.stratified_sample).
    randoms.append(random_unseen(unseen, config["seed"], episodes))
    head = [
        "round",
        "level trained",
        "attempt solved",
        "explore solved",
        *(f"held-out level {lv} ({eval_count})" for lv in LEVELS),
        f"valid_unseen ({unseen})",
        "CPU min",
    ]
    lines = [
        SECTION,
        "",
        "Command: `.venv/bin/python bench/curriculum_check.py "
        f"--rounds {config['rounds']} --train-count {config['curriculum_train_count']} "
        f"--eval-count {eval_count} --threshold {config['curriculum_threshold']} "
        f"--unseen-count {unseen} --write` ({date.today()}, "
        f"{platform.machine()} {os.cpu_count()}-core CPU, SmolLM2-135M-Instruct float32, every "
        f"service a real process, `make run` profile, curriculum_levels {list(LEVELS)} with "
        f"threshold {config['curriculum_threshold']} and {config['curriculum_train_count']} "
        f"training games per level, {MAX_STEPS} steps per episode). Every "
        "evaluation is one greedy, grounded attempt per game; valid_unseen is a seeded sample "
        "stratified by task type of the real ALFWorld split (`../shared/data/alfworld`).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]

    def cell(round_: int, split: str) -> str:
        return pct(*evals[round_, split]) if (round_, split) in evals else "-"

    splits = [*held_out.values(), "valid_unseen"]
    lines.append("| base | - | - | - | " + " | ".join(cell(-1, s) for s in splits) + " | - |")
    for row in rounds:
        s = row["stats"]
        lines.append(
            f"| {row['round']} | {row['level']} | {s.get('attempt_solved', '-')}/"
            f"{s.get('attempt_total', '-')} | {s.get('explore_solved', '-')}/"
            f"{s.get('explore_failed_tasks', '-')} | "
            + " | ".join(cell(row["round"], sp) for sp in splits)
            + f" | {phase_cpu(s)} |"
        )
    lines.append(
        f"| random actions ({episodes} per game) | - | - | - | "
        + " | ".join(f"{100 * r:.0f}%" for r in randoms)
        + " | - |"
    )
    lines += [
        "",
        f"Wall {result['wall'] / 60:.1f} min, CPU {result['cpu'] / 60:.1f} min (every process). "
        "CPU per round: total (attempt / explore / select / train / evaluate + the extra "
        "splits' evaluation).",
    ]
    if exp["state"] != "succeeded":
        lines += ["", f"The run did not finish: {exp['state']}: {exp['error']}"]
    return "\n".join(lines) + "\n"


def random_unseen(count: int, seed: int, episodes: int) -> float:
    """Random admissible actions on the stratified valid_unseen sample the run evaluated."""
    import random

    from a3t.envs import env_spec
    from a3t.trajectory import Task
    from a3t_controller.rounds import stratified_sample

    environment = env_spec("alfworld").environment(DATA)
    records = environment.list_tasks("valid_unseen")
    tasks = [Task("alfworld", r.task_id, "valid_unseen", r.task_type) for r in records]
    picked = {t.task_id for t in stratified_sample(tasks, count, f"{seed}:valid_unseen")}
    rng = random.Random(0)
    won = total = 0
    for record in records:
        if record.task_id not in picked:
            continue
        game = environment.load(record)
        for _ in range(episodes):
            _, state = game.reset()
            for _ in range(MAX_STEPS):
                state = game.step(rng.choice(sorted(state.admissible)))
                if state.done:
                    break
            won += state.won
            total += 1
    return won / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--train-count", type=int, default=16, help="training games per level")
    parser.add_argument("--eval-count", type=int, default=4, help="held-out games per level")
    parser.add_argument("--threshold", type=float, default=0.5, help="curriculum_threshold")
    parser.add_argument("--unseen-count", type=int, default=24)
    parser.add_argument("--random-episodes", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    workdir = ROOT / "var" / "bench" / "learning" / "curriculum"
    if args.report_only:
        result = json.loads((workdir / "result.json").read_text())
    else:
        result = run(workdir, args)
    body = section(workdir, result, args.random_episodes)
    print(body)
    if args.write:
        replace_section(SECTION, body)


if __name__ == "__main__":
    main()
