"""Selectors on fixed trajectories: which are kept, and the reason recorded for each."""

from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.config import ExperimentConfig
from a3t_controller.select import select
from a3t_controller.store import StoredTrajectory


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
        t: (kept, score, reason) for t, sel, kept, score, reason in decisions if sel == selector
    }


def test_env_keeps_the_shortest_wins_up_to_the_cap():
    decisions, stats = select(CANDIDATES, ExperimentConfig(max_positives_per_task=2), {})
    env = by_id(decisions, "env")
    assert {t for t, (kept, _, _) in env.items() if kept} == {"a2", "a3", "b0"}
    assert env["a0"] == (False, None, "won, but over the per-task cap (2)")
    assert env["a1"] == (False, None, "not won")
    assert env["a2"] == (True, None, "won (binarised reward 1)")
    assert stats == {"selector": "env", "candidates": 6, "kept_env": 3}


def test_critic_threshold_top_fraction_and_cap():
    scores = {"a0": 9.0, "a1": 8.0, "a2": 7.5, "a3": 3.0, "b0": 8.5, "c0": None}
    config = ExperimentConfig(
        selector="critic", critic_threshold=7.0, critic_top_fraction=0.75, critic_per_task_cap=2
    )
    decisions, stats = select(CANDIDATES, config, scores)
    critic = by_id(decisions, "critic")
    # Above 7: a0 9, b0 8.5, a1 8, a2 7.5 -> budget ceil(4 * 0.75) = 3 -> a0, b0, a1 kept.
    assert {t for t, (kept, _, _) in critic.items() if kept} == {"a0", "b0", "a1"}
    assert critic["a2"] == (False, 7.5, "score 7.5 >= 7 but outside the top 75%")
    assert critic["a3"] == (False, 3.0, "score 3 < 7")
    assert critic["c0"] == (False, None, "critic answer unparseable")
    assert stats["kept_critic"] == 3


def test_hybrid_reports_agreement():
    scores = {"a0": 9.0, "a1": 8.0, "a2": 7.5, "a3": 3.0, "b0": 8.5, "c0": 1.0}
    config = ExperimentConfig(
        selector="hybrid",
        max_positives_per_task=2,
        critic_threshold=7.0,
        critic_top_fraction=1.0,
        critic_per_task_cap=5,
    )
    decisions, stats = select(CANDIDATES, config, scores)
    env, critic = by_id(decisions, "env"), by_id(decisions, "critic")
    assert set(env) == set(critic) == {c.trajectory_id for c in CANDIDATES}
    # env keeps a2 a3 b0; critic keeps a0 a1 a2 b0: they agree on a2, b0, c0 (both drop).
    assert stats["critic_env_agreement"] == 3 / 6
