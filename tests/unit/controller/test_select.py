"""Selectors on fixed trajectories: which are kept, and the reason recorded for each; the
critic's agreement with the env check."""

from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.config import ExperimentConfig
from a3t_controller.select import auc, precision_recall, select
from a3t_controller.store import CriticAgreement, RoundStats, StoredTrajectory


def cand(tid: str, task: str, attempt: int, won: bool, steps: int) -> StoredTrajectory:
    traj = Trajectory(
        task=Task("alfworld", task, "train", "pick_and_place_simple"),
        initial_observation="obs",
        steps=tuple(Step(action="look") for _ in range(steps)),
        won=won,
        reward=float(won),
    )
    return StoredTrajectory(
        tid, 0, "explore", task, "pick_and_place_simple", attempt, won, float(won), traj
    )


CANDIDATES = [
    cand("a0", "A", 0, True, 9),
    cand("a1", "A", 1, False, 10),
    cand("a2", "A", 2, True, 3),
    cand("a3", "A", 3, True, 5),
    cand("b0", "B", 0, True, 7),
    cand("c0", "C", 0, False, 10),
]


def by_id(decisions, selector):
    return {
        d.trajectory_id: (d.kept, d.score, d.reason) for d in decisions if d.selector == selector
    }


def _key(decision):
    return decision.trajectory_id, decision.selector


def test_env_keeps_the_shortest_wins_up_to_the_cap():
    decisions, stats = select(CANDIDATES, ExperimentConfig(max_positives_per_task=2), {}, 0)
    env = by_id(decisions, "env")
    assert {t for t, (kept, _, _) in env.items() if kept} == {"a2", "a3", "b0"}
    assert env["a0"] == (False, None, "won, but over the per-task cap (2)")
    assert env["a1"] == (False, None, "not won")
    assert env["a2"] == (True, None, "won (binarised reward 1)")
    assert stats == RoundStats(selector="env", candidates=6, kept={"env": 3})


def test_critic_threshold_top_fraction_and_cap():
    scores = {"a0": 9.0, "a1": 8.0, "a2": 7.5, "a3": 3.0, "b0": 8.5, "c0": None}
    config = ExperimentConfig(
        selector="critic", critic_threshold=7.0, critic_top_fraction=0.75, critic_per_task_cap=2
    )
    decisions, stats = select(CANDIDATES, config, scores, 0)
    critic = by_id(decisions, "critic")
    # Above 7: a0 9, b0 8.5, a1 8, a2 7.5 -> budget ceil(4 * 0.75) = 3 -> a0, b0, a1 kept.
    assert {t for t, (kept, _, _) in critic.items() if kept} == {"a0", "b0", "a1"}
    assert critic["a2"] == (False, 7.5, "score 7.5 >= 7 but outside the top 75%")
    assert critic["a3"] == (False, 3.0, "score 3 < 7")
    assert critic["c0"] == (False, None, "critic answer unparseable")
    # Against won (a0 a2 a3 b0): kept a0 b0 a1 -> precision 2/3, recall 2/4. AUC over the parsed
    # scores (c0 left out): won 9 7.5 3 8.5 vs lost 8 -> 2 of 4 pairs ordered right.
    assert stats == RoundStats(
        selector="critic",
        candidates=6,
        kept={"critic": 3},
        critic=CriticAgreement(precision=2 / 3, recall=0.5, auc=0.5),
    )


def test_hybrid_reports_agreement():
    scores = {"a0": 9.0, "a1": 8.0, "a2": 7.5, "a3": 3.0, "b0": 8.5, "c0": 1.0}
    config = ExperimentConfig(
        selector="hybrid",
        max_positives_per_task=2,
        critic_threshold=7.0,
        critic_top_fraction=1.0,
        critic_per_task_cap=5,
    )
    decisions, stats = select(CANDIDATES, config, scores, 0)
    env, critic = by_id(decisions, "env"), by_id(decisions, "critic")
    assert set(env) == set(critic) == {c.trajectory_id for c in CANDIDATES}
    # env keeps a2 a3 b0; critic keeps a0 a1 a2 b0: they agree on a2, b0, c0 (both drop).
    assert stats.critic_env_agreement == 3 / 6
    # Critic kept a0 a1 a2 b0, won are a0 a2 a3 b0: precision 3/4, recall 3/4. AUC: won 9 7.5 3
    # 8.5 vs lost 8 1 -> 6 of 8 pairs ordered right.
    assert stats.critic == CriticAgreement(precision=0.75, recall=0.75, auc=0.75)


def test_oracle_applies_the_critic_rule_to_the_won():
    config = ExperimentConfig(selector="oracle", critic_top_fraction=0.75, critic_per_task_cap=1)
    decisions, stats = select(CANDIDATES, config, {}, 0)
    oracle = by_id(decisions, "oracle")
    # Won, shortest first: a2 (3), a3 (5), b0 (7), a0 (9) -> top ceil(4 * 0.75) = 3: a2 kept,
    # a3 over task A's cap, b0 kept; a0 outside.
    assert oracle == {
        "a0": (False, None, "won, but outside the top 75% (shortest first)"),
        "a1": (False, None, "not won"),
        "a2": (True, None, "won, in the top 75% (shortest first)"),
        "a3": (False, None, "won, but over the per-task cap (1)"),
        "b0": (True, None, "won, in the top 75% (shortest first)"),
        "c0": (False, None, "not won"),
    }
    assert stats == RoundStats(selector="oracle", candidates=6, kept={"oracle": 2})


def test_random_keeps_a_seeded_sample_by_the_critic_rule():
    config = ExperimentConfig(
        selector="random", seed=1, critic_top_fraction=0.5, critic_per_task_cap=2
    )
    decisions, stats = select(CANDIDATES, config, {}, 1)
    # Seed 1 + round 1 = 2 draws the order a2 a3 a1 b0 c0 a0; top ceil(6 * 0.5) = 3: a2, a3,
    # then a1 over task A's cap of 2.
    assert by_id(decisions, "random") == {
        "a0": (False, None, "outside the random top 50% (seed 2)"),
        "a1": (False, None, "in the random top 50%, but over the per-task cap (2)"),
        "a2": (True, None, "in the random top 50% (seed 2)"),
        "a3": (True, None, "in the random top 50% (seed 2)"),
        "b0": (False, None, "outside the random top 50% (seed 2)"),
        "c0": (False, None, "outside the random top 50% (seed 2)"),
    }
    assert stats == RoundStats(selector="random", candidates=6, kept={"random": 2})
    # The same round draws the same sample whatever order the store lists candidates in (a
    # resume); another round draws another (seed 3: a0 a2 a3 ...).
    again, _ = select(CANDIDATES[::-1], config, {}, 1)
    assert sorted(again, key=_key) == sorted(decisions, key=_key)
    other, _ = select(CANDIDATES, config, {}, 2)
    assert {d.trajectory_id for d in other if d.kept} == {"a0", "a2"}


def test_precision_and_recall_of_a_kept_set():
    won = [True, False, True, False, True]
    assert precision_recall([True, True, False, False, True], won) == (2 / 3, 2 / 3)
    assert precision_recall([True, False, True, False, True], won) == (1.0, 1.0)
    assert precision_recall([False] * 5, won) == (None, 0.0)
    assert precision_recall([True, False], [False, False]) == (0.0, None)


def test_auc_counts_ties_half_and_needs_both_classes():
    # Won 9, 8 vs lost 8, 3: 9>8, 9>3, 8=8 (half), 8>3 -> 3.5 / 4.
    assert auc([9.0, 8.0, 8.0, 3.0], [True, False, True, False]) == 0.875
    assert auc([10.0, 10.0, 10.0], [True, False, False]) == 0.5  # one score for all
    assert auc([1.0, 2.0, 3.0], [True, False, False]) == 0.0  # every won below every lost
    assert auc([1.0, 2.0], [True, True]) is None
    assert auc([], []) is None
