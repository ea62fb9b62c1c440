"""Reports over the store: a markdown table per round, a PNG plot, and a JSONL export."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from a3t.envs import ENVIRONMENTS
from a3t_controller.rounds import BASE_ROUND
from a3t_controller.store import (
    CriticAgreement,
    EvaluationRow,
    ExtraEvaluationRow,
    RoundStats,
    Store,
)


@dataclass(frozen=True)
class ReportRow:
    """One row of the report: a round (BASE_ROUND: the base model's evaluation), the phase it is
    in, its stats and its evaluation (None until evaluated)."""

    round: int
    phase: str
    stats: RoundStats
    eval: EvaluationRow | None

    @property
    def label(self) -> str:
        return "base" if self.round == BASE_ROUND else str(self.round)


def report_rows(store: Store, experiment_id: str) -> list[ReportRow]:
    """One row per round, the base model's evaluation first."""
    rows = []
    base = store.evaluation(experiment_id, BASE_ROUND)
    if base is not None:
        rows.append(ReportRow(BASE_ROUND, "done", RoundStats(), base))
    for r in store.rounds(experiment_id):
        rows.append(ReportRow(r.round, r.phase, r.stats, store.evaluation(experiment_id, r.round)))
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _minutes(seconds: dict[str, float]) -> str:
    """The round's phases' seconds, summed, in minutes ("-" when not recorded)."""
    return f"{sum(seconds.values()) / 60:.1f}" if seconds else "-"


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _grounded(s: RoundStats) -> str:
    """The share of the round's checked rationales found grounded, and the counts."""
    checked, grounded = s.rationales_checked, s.rationales_grounded
    if not checked or grounded is None:
        return "-"
    return f"{100 * grounded / checked:.0f}% ({grounded}/{checked})"


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _score(store: Store, experiment_id: str, round_: int) -> str:
    """Mean reward x 100 of a round's evaluation episodes (WebShop's "score")."""
    evals = store.trajectories(experiment_id, round_, "eval")
    return f"{100 * sum(t.reward for t in evals) / len(evals):.1f}" if evals else "-"


def markdown_report(store: Store, experiment_id: str) -> str:
    exp = store.experiment(experiment_id)
    rows = report_rows(store, experiment_id)
    types = sorted({t for r in rows if r.eval for t in r.eval.by_type})
    curriculum = any(r.stats.train_level is not None for r in rows)
    # The critic against the env check (a3t_controller.select.agreement), where the critic scored.
    agreement = any(r.stats.critic is not None for r in rows)
    # Rollouts that failed (a3t_controller.rounds): shown when any round had one.
    faults = any(
        any(r.stats.rollouts_retried.values()) or any(r.stats.groups_dropped.values()) for r in rows
    )
    spec = ENVIRONMENTS.get(exp.config.get("env", ""))
    scored = spec is not None and spec.mean_score
    # The model's own actions (a3t_controller.rounds.admissible_share), where measured.
    admissible = any(r.eval and r.eval.admissible_share is not None for r in rows)
    ungrounded = any(r.eval and r.eval.ungrounded_success_rate is not None for r in rows)
    # The env's rationale check on the kept rationales (EnvSpec.rationale_check), where it ran.
    rationales = any(r.stats.rationales_checked is not None for r in rows)
    head = [
        "round",
        *(["level"] if curriculum else []),
        "phase",
        "attempt solved",
        "explore solved",
        "selected",
        *(["rationales grounded"] if rationales else []),
        "pool",
        *(["critic precision", "critic recall", "critic AUC"] if agreement else []),
        *(["rollouts retried", "groups dropped"] if faults else []),
        "eval success",
        *(["eval score"] if scored else []),
        *(["admissible"] if admissible else []),
        *(["ungrounded success", "ungrounded admissible"] if ungrounded else []),
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
        s, ev = r.stats, r.eval
        attempt = f"{s.attempt_solved}/{s.attempt_total}" if s.attempt_total is not None else "-"
        explore = (
            f"{s.explore_solved}/{s.explore_failed_tasks}"
            if s.explore_failed_tasks is not None
            else "-"
        )
        if s.explore_env_steps is not None:  # what the adaptive exploration spent
            explore += f" ({s.explore_episodes} episodes, {s.explore_env_steps} env steps)"
        critic = s.critic or CriticAgreement(None, None, None)  # "-" where it did not score
        cells = [
            r.label,
            *([_or_dash(s.train_level)] if curriculum else []),
            r.phase,
            attempt,
            explore,
            _or_dash(s.selected),
            *([_grounded(s)] if rationales else []),
            _or_dash(s.pool_size),
            *([_pct(critic.precision), _pct(critic.recall), _auc(critic.auc)] if agreement else []),
            *(
                [str(sum(s.rollouts_retried.values())), str(sum(s.groups_dropped.values()))]
                if faults
                else []
            ),
            _pct(ev.success_rate) if ev else "-",
            *([_score(store, experiment_id, r.round) if ev else "-"] if scored else []),
            *([_pct(ev.admissible_share) if ev else "-"] if admissible else []),
            *(_ungrounded(ev) if ungrounded else []),
            _pct(ev.cumulative_success_rate) if ev else "-",
            *[_pct(ev.by_type.get(t)) if ev else "-" for t in types],
            _minutes(s.wall_s),
            _minutes(s.cpu_s),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    extra = store.extra_evaluations(experiment_id)
    if extra:
        lines += ["", *_extra_table(extra)]
    return "\n".join(lines)


def _ungrounded(ev: EvaluationRow | None) -> list[str]:
    """The ungrounded evaluation's success and admissible share ("-" where not measured)."""
    if ev is None:
        return ["-", "-"]
    return [_pct(ev.ungrounded_success_rate), _pct(ev.ungrounded_admissible_share)]


def _extra_table(rows: list[ExtraEvaluationRow]) -> list[str]:
    """`a3t evaluate`'s evaluations of stored adapters, each on its own split and grounding."""
    head = [
        *("adapter", "split", "grounding", "tasks", "success", "admissible", "by type"),
        *("wall min", "when (UTC)"),
    ]
    lines = [
        "## Evaluations of stored adapters (`a3t evaluate`)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for e in rows:
        adapter = "base" if e.round == BASE_ROUND else f"{e.round} ({e.adapter})"
        by_type = ", ".join(f"{t} {_pct(rate)}" for t, rate in e.by_type.items())
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.create_time))
        cells = [
            adapter,
            e.split,
            "on" if e.grounded else "off",
            str(e.n_tasks),
            _pct(e.success_rate),
            _pct(e.admissible_share),
            by_type or "-",
            f"{e.wall_s / 60:.1f}",
            when,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_report(store: Store, experiment_id: str, path: Path) -> Path:
    """Success rate per round (overall and per task type) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    evals = [(r.label, r.eval) for r in report_rows(store, experiment_id) if r.eval]
    labels = [label for label, _ in evals]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(labels, [100 * ev.success_rate for _, ev in evals], "o-", lw=2.5, label="all")
    ax.plot(
        labels, [100 * ev.cumulative_success_rate for _, ev in evals], "k--", label="cumulative"
    )
    for t in sorted({t for _, ev in evals for t in ev.by_type}):
        ax.plot(labels, [100 * ev.by_type.get(t, float("nan")) for _, ev in evals], ".:", label=t)
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
