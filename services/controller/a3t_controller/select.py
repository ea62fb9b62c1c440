"""Selectors (DESIGN.md round step 3): which explored trajectories are kept for training.

- env: keep trajectories with binarised reward 1 (won), at most `max_positives_per_task` per task,
  the shortest first: a random walk that wins in 3 steps shows the task better than one that
  wanders for 9, and costs a third of the training tokens.
- critic: keep trajectories the critic scores >= threshold, the top fraction of those overall, at
  most `critic_per_task_cap` per task. An unparseable critic answer (score None) is never kept.
- hybrid: both selectors judge every candidate (a trajectory is kept only if both keep it), and
  the critic-env agreement is reported.

To measure what the critic is worth, two selectors apply the critic's rule without the critic
(neither needs the critic service):
- oracle (the upper bound): the env check in the critic's place. The eligible candidates are the
  won ones (the critic's "score >= threshold"), ranked shortest first, as env ranks them; the
  top fraction of them by rank is kept, at most `critic_per_task_cap` per task.
- random (the lower bound): a seeded random rank in the critic's place, every candidate eligible:
  candidates in a random order (seeded by experiment seed + round, so a resumed round draws the
  same sample), the first ceil(critic_top_fraction x candidates) of them kept, at most
  `critic_per_task_cap` per task. That is the size the critic rule keeps when every candidate
  passes its threshold (as with a critic that scores everything alike); a critic with a signal
  keeps at most as many.

The shared rule (`_rank_rule`): a candidate is in the top fraction when its rank among the eligible
is < ceil(top_fraction x eligible); a candidate in it is kept while its task has fewer than the cap
kept (one dropped by the cap is not replaced by the next in rank).

Where the critic scored (critic, hybrid), its agreement with the env check is reported in the
round stats: precision and recall of the critic's kept set against the won trajectories, and the
AUC of its scores against won (`agreement`).

Every decision (a3t_controller.store.Decision) is returned with its reason, for the store.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from a3t_controller.config import ExperimentConfig
from a3t_controller.store import CriticAgreement, Decision, RoundStats, StoredTrajectory

# Outcomes of the critic's rank rule for one eligible candidate.
KEPT, OUTSIDE, OVER_CAP = "kept", "outside the top fraction", "over the per-task cap"


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
            decisions.append(Decision(cand.trajectory_id, "env", False, None, "not won"))
        elif kept_per_task[cand.task_id] >= cap:
            reason = f"won, but over the per-task cap ({cap})"
            decisions.append(Decision(cand.trajectory_id, "env", False, None, reason))
        else:
            kept_per_task[cand.task_id] += 1
            reason = "won (binarised reward 1)"
            decisions.append(Decision(cand.trajectory_id, "env", True, None, reason))
    return decisions


def _rank_rule(ranked: Sequence[StoredTrajectory], top_fraction: float, cap: int) -> dict[str, str]:
    """The critic's rule over the eligible candidates, best first: KEPT, OUTSIDE or OVER_CAP per
    trajectory id."""
    budget = math.ceil(len(ranked) * top_fraction)
    outcome: dict[str, str] = {}
    per_task: dict[str, int] = defaultdict(int)
    for rank, cand in enumerate(ranked):
        if rank >= budget:
            outcome[cand.trajectory_id] = OUTSIDE
        elif per_task[cand.task_id] >= cap:
            outcome[cand.trajectory_id] = OVER_CAP
        else:
            per_task[cand.task_id] += 1
            outcome[cand.trajectory_id] = KEPT
    return outcome


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
    outcome = _rank_rule([c for _, c in above], top_fraction, cap)
    decisions = []
    for score, cand in scored:
        if score is None:
            decisions.append(
                Decision(cand.trajectory_id, "critic", False, None, "critic answer unparseable")
            )
        elif score < threshold:
            reason = f"score {score:g} < {threshold:g}"
            decisions.append(Decision(cand.trajectory_id, "critic", False, score, reason))
        else:
            reason = {
                KEPT: f"score {score:g} >= {threshold:g}, in the top fraction",
                OUTSIDE: f"score {score:g} >= {threshold:g} but outside the top {top_fraction:.0%}",
                OVER_CAP: f"score {score:g}, but over the per-task cap ({cap})",
            }[outcome[cand.trajectory_id]]
            kept = outcome[cand.trajectory_id] == KEPT
            decisions.append(Decision(cand.trajectory_id, "critic", kept, score, reason))
    return decisions


def select_oracle(
    candidates: Sequence[StoredTrajectory], top_fraction: float, cap: int
) -> list[Decision]:
    """The critic's rule with the env check in the critic's place: won trajectories, shortest
    first, the top fraction of them, at most `cap` per task."""
    won = sorted(
        (c for c in candidates if c.won),
        key=lambda c: (len(c.trajectory.steps), c.task_id, c.attempt),
    )
    outcome = _rank_rule(won, top_fraction, cap)
    reasons = {
        KEPT: f"won, in the top {top_fraction:.0%} (shortest first)",
        OUTSIDE: f"won, but outside the top {top_fraction:.0%} (shortest first)",
        OVER_CAP: f"won, but over the per-task cap ({cap})",
    }
    decisions = []
    for cand in candidates:
        verdict = outcome.get(cand.trajectory_id)
        reason = reasons[verdict] if verdict else "not won"
        decisions.append(Decision(cand.trajectory_id, "oracle", verdict == KEPT, None, reason))
    return decisions


def select_random(
    candidates: Sequence[StoredTrajectory], seed: int, top_fraction: float, cap: int
) -> list[Decision]:
    """The critic's rule with a seeded random rank in the critic's place, every candidate
    eligible. The order drawn does not depend on the order `candidates` come in."""
    ranked = sorted(candidates, key=lambda c: (c.task_id, c.attempt, c.trajectory_id))
    random.Random(seed).shuffle(ranked)
    outcome = _rank_rule(ranked, top_fraction, cap)
    reasons = {
        KEPT: f"in the random top {top_fraction:.0%} (seed {seed})",
        OUTSIDE: f"outside the random top {top_fraction:.0%} (seed {seed})",
        OVER_CAP: f"in the random top {top_fraction:.0%}, but over the per-task cap ({cap})",
    }
    return [
        Decision(
            c.trajectory_id,
            "random",
            outcome[c.trajectory_id] == KEPT,
            None,
            reasons[outcome[c.trajectory_id]],
        )
        for c in candidates
    ]


def precision_recall(
    kept: Sequence[bool], won: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision and recall of a kept set against the won trajectories (one flag pair per
    candidate): kept-and-won / kept, kept-and-won / won; None where the denominator is 0."""
    both = sum(k and w for k, w in zip(kept, won, strict=True))
    n_kept, n_won = sum(kept), sum(won)
    return (both / n_kept if n_kept else None, both / n_won if n_won else None)


def auc(scores: Sequence[float], won: Sequence[bool]) -> float | None:
    """The AUC of `scores` against `won` (Mann-Whitney U / (positives x negatives)): the chance
    that a won trajectory scores above a lost one, a tie counting half. None when only one class
    is present."""
    n_pos = sum(won)
    n_neg = len(won) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):  # 1-based ranks, tied scores sharing their mean rank
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    u = sum(r for r, w in zip(ranks, won, strict=True) if w) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def agreement(
    candidates: Sequence[StoredTrajectory],
    critic: Sequence[Decision],
    scores: Mapping[str, float | None],
) -> CriticAgreement:
    """The critic against the env check: precision and recall of the critic's kept set against
    won, and the AUC of its scores against won (unparseable answers left out of the AUC; they
    are never kept)."""
    kept = {d.trajectory_id: d.kept for d in critic}
    precision, recall = precision_recall(
        [kept[c.trajectory_id] for c in candidates], [c.won for c in candidates]
    )
    scored = [(s, c.won) for c in candidates if (s := scores.get(c.trajectory_id)) is not None]
    return CriticAgreement(precision, recall, auc([s for s, _ in scored], [w for _, w in scored]))


def select(
    candidates: Sequence[StoredTrajectory],
    config: ExperimentConfig,
    scores: Mapping[str, float | None],
    round_: int,
) -> tuple[list[Decision], RoundStats]:
    """Runs the configured selector(s) on round `round_`'s candidates; returns the decisions and
    round stats."""
    decisions: list[Decision] = []
    judged: dict[str, list[Decision]] = {}
    if config.selector in ("env", "hybrid"):
        judged["env"] = select_env(candidates, config.max_positives_per_task)
    if config.selector in ("critic", "hybrid"):
        judged["critic"] = select_critic(
            candidates,
            scores,
            config.critic_threshold,
            config.critic_top_fraction,
            config.critic_per_task_cap,
        )
    if config.selector == "oracle":
        judged["oracle"] = select_oracle(
            candidates, config.critic_top_fraction, config.critic_per_task_cap
        )
    if config.selector == "random":
        judged["random"] = select_random(
            candidates,
            config.seed + round_,
            config.critic_top_fraction,
            config.critic_per_task_cap,
        )
    for rows in judged.values():
        decisions += rows
    env, critic = judged.get("env"), judged.get("critic")
    both = None
    if env is not None and critic is not None and candidates:
        env_kept = {d.trajectory_id: d.kept for d in env}
        both = sum(env_kept[d.trajectory_id] == d.kept for d in critic) / len(candidates)
    stats = RoundStats(
        selector=config.selector,
        candidates=len(candidates),
        kept={name: sum(d.kept for d in rows) for name, rows in judged.items()},
        critic_env_agreement=both,
        critic=agreement(candidates, critic, scores) if critic is not None else None,
    )
    return decisions, stats
