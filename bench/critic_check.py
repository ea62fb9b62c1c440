"""Critic selection on API-Bank: held-out success after a round for each selector, on the same
explored data, with the critic's agreement with the call check.

    .venv/bin/python bench/critic_check.py [--data-root ../shared/data/api-bank] [--write]
        [--explored-from NAME] [--with-text]

The first run explores; the other selectors start from its round-0 explored data (`a3t run
--fork-from`; with --explored-from, every run forks from that experiment of the same store), so
they differ only in what they keep:
- critic (probability): 10 x the critic's probability of "yes" to "did the agent accomplish the
  task" (nothing generated);
- critic (text, with --with-text): the critic's written 0-10 score (measured here at ~38 s per
  API-Bank trajectory on 2 cores: 256 tokens and a repair retry, so off by default);
- oracle: the call check in the critic's place (the upper bound);
- random: a seeded random sample of the same size rule (the lower bound).
Every selector keeps the top half of the candidates it ranks (critic_threshold 0, so the rank is
what is measured), at most 2 per task, and trains SFT on them. Reported: held-out success (base
and after round 0), what each kept, its precision / recall against the check, the critic's AUC,
and CPU minutes per phase. Each run lives in var/bench/critic/ (delete it to measure again; an
existing one is resumed). With --write the table replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
from datetime import date
from pathlib import Path

from docs_section import replace_section
from learning_check import measured_run

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Critic selection: API-Bank"
WORKDIR = ROOT / "var" / "bench" / "critic"
# 16 training / 16 held-out items sampled (seed 0) from the dialogue-disjoint level-1 splits;
# K=4 sampled attempts per failed item; one round: an API-Bank episode costs ~10 s of CPU here.
COMMON = (
    *("--env", "apibank", "--rounds", "1"),
    *("--train-split", "level-1-train", "--eval-split", "level-1-test"),
    *("--set", "max_train_tasks=16", "--set", "max_eval_tasks=16"),
    *("--set", "explore_attempts=4", "--set", "critic_threshold=0"),
)
RUNS = {  # name: (what, extra arguments); the first explores unless --explored-from is given
    "critic_prob": (
        "critic, probability of yes",
        ("--set", "selector=critic", "--critic-scoring", "probability"),
    ),
    "oracle": ("oracle (the call check)", ("--set", "selector=oracle")),
    "random": ("random (same size rule)", ("--set", "selector=random")),
}
TEXT_RUN = ("critic, text score", ("--set", "selector=critic"))


def run(name: str, extra: tuple[str, ...], data_root: Path, source: str | None) -> dict:
    cmd = [
        str(ROOT / ".venv/bin/a3t"),
        *("--workdir", str(WORKDIR), "run", "--name", name),
        *("--data-root", str(data_root)),
        *COMMON,
        *extra,
        *(("--fork-from", source) if source else ()),
    ]
    result = measured_run(cmd)
    (WORKDIR / f"{name}.json").write_text(json.dumps(result))
    return result


def read(name: str) -> dict:
    db = sqlite3.connect(WORKDIR / "a3t.sqlite")
    eid, state, error = db.execute(
        "SELECT experiment_id, state, error_message FROM experiments WHERE name = ?", (name,)
    ).fetchone()
    evals = dict(
        db.execute(
            "SELECT round, success_rate FROM evaluations WHERE experiment_id = ?", (eid,)
        ).fetchall()
    )
    n_eval = db.execute(
        "SELECT n_tasks FROM evaluations WHERE experiment_id = ? AND round = -1", (eid,)
    ).fetchone()
    row = db.execute(
        "SELECT stats_json FROM rounds WHERE experiment_id = ? AND round = 0", (eid,)
    ).fetchone()
    kept = db.execute(
        "SELECT COUNT(*), SUM(t.won) FROM selections s JOIN trajectories t USING "
        "(trajectory_id) WHERE s.experiment_id = ? AND s.kept = 1",
        (eid,),
    ).fetchone()
    return {
        "state": state,
        "error": error,
        "evals": evals,
        "n_eval": n_eval[0] if n_eval else 0,
        "stats": json.loads(row[0]) if row else {},
        "kept": kept[0],
        "kept_won": kept[1] or 0,
    }


def fmt(value, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def table(results: dict[str, dict], runs: dict, explorer_name: str) -> str:
    explorer = read(explorer_name)["stats"]
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/critic_check.py {' '.join(sys.argv[1:])}` "
        f"({date.today()}, "
        f"{platform.machine()} {os.cpu_count()}-core CPU, nothing else running; SmolLM2-135M-"
        "Instruct float32 as policy and critic, every service a real process). API-Bank level-1, "
        "16 training items and 16 held-out items sampled from the dialogue-disjoint "
        "`level-1-train` / `level-1-test` splits, up to 3 calls per episode, K=4 sampled attempts "
        "(temperature) per failed item, one round. One run explores; the other selectors start "
        "from its explored data (`a3t run --fork-from`). Each keeps the top half of what it ranks "
        "(threshold 0), at most 2 per item, and trains SFT on what it keeps.",
        "",
        f"Explored: {explorer.get('attempt_solved', '-')}/{explorer.get('attempt_total', '-')} "
        f"items solved by the base policy's own attempt; exploration solved "
        f"{explorer.get('explore_solved', '-')}/{explorer.get('explore_failed_tasks', '-')} "
        f"failed items ({explorer.get('explore_won', '-')} of "
        f"{explorer.get('explore_episodes', '-')} episodes passed the check).",
        "",
        "| selector | base | after round 0 | kept (passing the check) | precision | recall "
        "| critic AUC | CPU min: select / train / evaluate | state |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (what, _) in runs.items():
        res = read(name)
        s, n = res["stats"], res["n_eval"]
        won = res["kept_won"]
        precision = won / res["kept"] if res["kept"] else None
        all_won = explorer.get("explore_won", 0)
        recall = won / all_won if all_won else None
        cpu = " / ".join(fmt(s.get(f"cpu_s_{p}", 0) / 60, "{:.1f}") for p in ("select", "train"))
        cpu += " / " + fmt(s.get("cpu_s_evaluate", 0) / 60, "{:.1f}")
        cells = [
            f"{100 * res['evals'][r]:.0f}% ({round(res['evals'][r] * n)}/{n})"
            if r in res["evals"]
            else "-"
            for r in (-1, 0)
        ]
        state = res["state"] + (f": {res['error'][:120]}" if res["error"] else "")
        lines.append(
            f"| {what} | {cells[0]} | {cells[1]} | {res['kept']} ({won}) | {fmt(precision)} "
            f"| {fmt(recall)} | {fmt(s.get('critic_auc'))} | {cpu} | {state} |"
        )
    explore_cpu = sum(explorer.get(f"cpu_s_{p}", 0) for p in ("attempt", "explore")) / 60
    whole = results.get(explorer_name, {}).get("cpu")
    lines += [
        "",
        f"CPU minutes: exploring ({explorer_name}) {explore_cpu:.1f} for the attempts and "
        "explorations"
        + (f", {whole / 60:.1f} in all" if whole else "")
        + "; then "
        + ", ".join(
            f"{name} {results[name]['cpu'] / 60:.1f}"
            for name in runs
            if name in results and name != explorer_name
        )
        + " (each fork: selection, training, evaluation).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared/data/api-bank")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="run nothing; read the store")
    parser.add_argument("--explored-from", help="fork every run from this experiment's round 0")
    parser.add_argument("--with-text", action="store_true", help="also the text-scoring critic")
    args = parser.parse_args()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    runs = dict(RUNS) | ({"critic_text": TEXT_RUN} if args.with_text else {})
    explorer = args.explored_from or next(iter(runs))
    results = {}
    for name, (_, extra) in runs.items():
        saved = WORKDIR / f"{name}.json"
        if saved.exists() and json.loads(saved.read_text())["exit"] == 0:
            results[name] = json.loads(saved.read_text())  # measured already
        elif args.report_only:
            results[name] = json.loads(saved.read_text()) if saved.exists() else {"cpu": 0}
        else:
            source = None if name == explorer else explorer
            results[name] = run(name, extra, args.data_root.resolve(), source)
    body = table(results, runs, explorer)
    print(body)
    if args.write:
        replace_section(SECTION, body)


if __name__ == "__main__":
    main()
