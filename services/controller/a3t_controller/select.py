"""Selectors (DESIGN.md round step 3): which explored trajectories are kept for training.

- env: keep trajectories with binarised reward 1 (won), at most `max_positives_per_task` per task,
  the shortest first: a random walk that wins in 3 steps shows the task better than one that
  wanders for 9, and costs a third of the training tokens.
- critic: keep trajectories the critic scores >= threshold, the top fraction of those overall, at
  most `critic_per_task_cap` per task. An unparseable critic answer (score None) is never kept.
- hybrid: both selectors judge every candidate (a trajectory is kept only if both keep it), and
  the critic-env agreement is reported.

Every decision is returned with its reason, for the store.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from a3t_controller.config import ExperimentConfig
from a3t_controller.store import StoredTrajectory

Decision = tuple[
    str, str, bool, float | None, str
]  # (trajectory_id, selector, kept, score, reason)


def kept_by_all(verdicts: Iterable[tuple[str, bool]]) -> list[str]:
    """Trajectory ids that every selector which judged them kept, in first-seen order, from
    (trajectory_id, kept) pairs: hybrid selection keeps a trajectory only if both selectors do."""
    combined: dict[str, bool] = {}
    for trajectory_id, kept in verdicts:
        combined[trajectory_id] = combined.get(trajectory_id, True) and bool(kept)
    return [t for t, ok in combined.items() if ok]


def select_env(candidates: Sequence[StoredTrajectory], cap: int) -> list[Decision]:
    decisions = []
    kept_per_task: dict[str, int] = defaultdict(int)
    for cand in sorted(candidates, key=lambda c: (c.task_id, len(c.trajectory.steps), c.attempt)):
        if not cand.won:
            decisions.append((cand.trajectory_id, "env", False, None, "not won"))
        elif kept_per_task[cand.task_id] >= cap:
            decisions.append(
                (cand.trajectory_id, "env", False, None, f"won, but over the per-task cap ({cap})")
            )
        else:
            kept_per_task[cand.task_id] += 1
            decisions.append((cand.trajectory_id, "env", True, None, "won (binarised reward 1)"))
    return decisions


def select_critic(
    candidates: Sequence[StoredTrajectory],
    scores: Mapping[str, float | None],
    threshold: float,
    top_fraction: float,
    cap: int,
) -> list[Decision]:
    scored = [(scores.get(c.trajectory_id), c) for c in candidates]
    above = sorted(
        ((s, c) for s, c in scored if s is not None and s >= threshold),
        key=lambda sc: (-sc[0], sc[1].task_id, sc[1].attempt),
    )
    budget = math.ceil(len(above) * top_fraction)
    kept: dict[str, str] = {}
    per_task: dict[str, int] = defaultdict(int)
    for score, cand in above:
        if len(kept) >= budget:
            kept[cand.trajectory_id] = (
                f"score {score:g} >= {threshold:g} but outside the top {top_fraction:.0%}"
            )
        elif per_task[cand.task_id] >= cap:
            kept[cand.trajectory_id] = f"score {score:g}, but over the per-task cap ({cap})"
        else:
            per_task[cand.task_id] += 1
            kept[cand.trajectory_id] = ""
    decisions = []
    for score, cand in scored:
        if score is None:
            decisions.append(
                (cand.trajectory_id, "critic", False, None, "critic answer unparseable")
            )
        elif score < threshold:
            decisions.append(
                (cand.trajectory_id, "critic", False, score, f"score {score:g} < {threshold:g}")
            )
        else:
            reason = kept[cand.trajectory_id]
            decisions.append(
                (
                    cand.trajectory_id,
                    "critic",
                    not reason,
                    score,
                    reason or f"score {score:g} >= {threshold:g}, in the top fraction",
                )
            )
    return decisions


def select(
    candidates: Sequence[StoredTrajectory],
    config: ExperimentConfig,
    scores: Mapping[str, float | None],
) -> tuple[list[Decision], dict]:
    """Runs the configured selector(s); returns the decisions and round stats."""
    decisions: list[Decision] = []
    env = critic = None
    if config.selector in ("env", "hybrid"):
        env = select_env(candidates, config.max_positives_per_task)
        decisions += env
    if config.selector in ("critic", "hybrid"):
        critic = select_critic(
            candidates,
            scores,
            config.critic_threshold,
            config.critic_top_fraction,
            config.critic_per_task_cap,
        )
        decisions += critic
    stats: dict = {"selector": config.selector, "candidates": len(candidates)}
    for name, rows in (("env", env), ("critic", critic)):
        if rows is not None:
            stats[f"kept_{name}"] = sum(kept for _, _, kept, _, _ in rows)
    if env is not None and critic is not None and candidates:
        env_kept = {t: k for t, _, k, _, _ in env}
        agree = sum(env_kept[t] == k for t, _, k, _, _ in critic)
        stats["critic_env_agreement"] = agree / len(candidates)
    return decisions, stats
