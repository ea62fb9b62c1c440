"""Reports over the store: a markdown table per round, a PNG plot, and a JSONL export."""

from __future__ import annotations

import json
import os
from pathlib import Path

from a3t.envs import ENVIRONMENTS
from a3t_controller.rounds import BASE_ROUND, report_rows
from a3t_controller.store import Store


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _minutes(stats: dict, prefix: str) -> str:
    """The round's phases' seconds under `prefix`, summed, in minutes ("-" when not recorded)."""
    seconds = [v for k, v in stats.items() if k.startswith(prefix)]
    return f"{sum(seconds) / 60:.1f}" if seconds else "-"


def _summed(stats: dict, suffix: str) -> str:
    """The round's phases' counts ending in `suffix`, summed."""
    return str(sum(v for k, v in stats.items() if k.endswith(suffix)))


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _score(store: Store, experiment_id: str, round_: int | str) -> str:
    """Mean reward x 100 of a round's evaluation episodes (WebShop's "score")."""
    evals = store.trajectories(experiment_id, BASE_ROUND if round_ == "base" else round_, "eval")
    return f"{100 * sum(t.reward for t in evals) / len(evals):.1f}" if evals else "-"


def markdown_report(store: Store, experiment_id: str) -> str:
    exp = store.experiment(experiment_id)
    rows = report_rows(store, experiment_id)
    types = sorted({t for r in rows if r["eval"] for t in r["eval"]["by_type"]})
    curriculum = any("train_level" in r["stats"] for r in rows)
    # The critic against the env check (a3t_controller.select.agreement), where the critic scored.
    agreement = any("critic_auc" in r["stats"] for r in rows)
    # Rollouts that failed (a3t_controller.rounds): shown when any round had one.
    faults = any(
        v
        for r in rows
        for k, v in r["stats"].items()
        if k.endswith(("_rollouts_retried", "_groups_dropped"))
    )
    spec = ENVIRONMENTS.get(exp.config.get("env", ""))
    scored = spec is not None and spec.mean_score
    head = [
        "round",
        *(["level"] if curriculum else []),
        "phase",
        "attempt solved",
        "explore solved",
        "selected",
        "pool",
        *(["critic precision", "critic recall", "critic AUC"] if agreement else []),
        *(["rollouts retried", "groups dropped"] if faults else []),
        "eval success",
        *(["eval score"] if scored else []),
        "cumulative",
        *types,
        "wall min",
        "CPU min",
    ]
    lines = [
        f"## {exp.name} ({exp.state}, eval split {exp.config['eval_split']})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        s, ev = r["stats"], r["eval"]
        attempt = f"{s['attempt_solved']}/{s['attempt_total']}" if "attempt_total" in s else "-"
        explore = (
            f"{s['explore_solved']}/{s['explore_failed_tasks']}"
            if "explore_failed_tasks" in s
            else "-"
        )
        cells = [
            str(r["round"]),
            *([str(s.get("train_level", "-"))] if curriculum else []),
            r["phase"],
            attempt,
            explore,
            str(s.get("selected", "-")),
            str(s.get("pool_size", "-")),
            *(
                [
                    _pct(s.get("critic_precision")),
                    _pct(s.get("critic_recall")),
                    _auc(s.get("critic_auc")),
                ]
                if agreement
                else []
            ),
            *([_summed(s, "_rollouts_retried"), _summed(s, "_groups_dropped")] if faults else []),
            _pct(ev["success_rate"]) if ev else "-",
            *([_score(store, experiment_id, r["round"]) if ev else "-"] if scored else []),
            _pct(ev["cumulative_success_rate"]) if ev else "-",
            *[_pct(ev["by_type"].get(t)) if ev else "-" for t in types],
            _minutes(s, "wall_s_"),
            _minutes(s, "cpu_s_"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_report(store: Store, experiment_id: str, path: Path) -> Path:
    """Success rate per round (overall and per task type) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    rows = [r for r in report_rows(store, experiment_id) if r["eval"]]
    labels = [str(r["round"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(labels, [100 * r["eval"]["success_rate"] for r in rows], "o-", lw=2.5, label="all")
    ax.plot(
        labels,
        [100 * r["eval"]["cumulative_success_rate"] for r in rows],
        "k--",
        label="cumulative",
    )
    for t in sorted({t for r in rows for t in r["eval"]["by_type"]}):
        ax.plot(
            labels, [100 * r["eval"]["by_type"].get(t, float("nan")) for r in rows], ".:", label=t
        )
    ax.set_xlabel("round (base = before training)")
    ax.set_ylabel("held-out success %")
    ax.set_ylim(-2, 102)
    ax.set_title(store.experiment(experiment_id).name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def export_jsonl(store: Store, experiment_id: str, path: Path) -> int:
    """One flat JSON object per trajectory; `datasets.load_dataset("json", data_files=...)`
    reads it (nested steps stay a list of structs)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w") as out:
        for t in store.trajectories(experiment_id):
            data = t.trajectory.to_dict()
            data.update(phase=t.phase, attempt=t.attempt)
            data["task"]["metadata"] = json.dumps(data["task"]["metadata"], sort_keys=True)
            data["metadata"] = json.dumps(data["metadata"], sort_keys=True)
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n
