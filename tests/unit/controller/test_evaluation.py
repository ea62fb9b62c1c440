"""The model's own actions, measured: the admissible share before grounding, the ungrounded
evaluation beside the grounded one (recorded, timed on its own, resumed), and `a3t evaluate`'s
evaluation of a stored adapter outside the rounds."""

from dataclasses import replace

import pytest

from a3t.errors import NotFound
from a3t.trajectory import Step, StepSource, Task, Trajectory
from a3t_controller.report import markdown_report
from a3t_controller.rounds import (
    BASE_ROUND,
    EVAL,
    EVAL_UNGROUNDED,
    admissible_share,
    extra_eval_phase,
    success_rates,
)
from a3t_controller.store import StoredTrajectory
from tests.unit.controller.test_rounds import make


def traj(*steps: tuple[StepSource, bool]) -> Trajectory:
    return Trajectory(
        Task("alfworld", "t"),
        "room",
        tuple(Step(action="go to desk 1", source=s, admissible=a) for s, a in steps),
    )


def test_admissible_share_counts_the_policys_own_actions_before_grounding():
    p, g = StepSource.POLICY, StepSource.GROUNDED
    # 3 of 5 policy steps admissible; a grounded step's own action never was (its recorded
    # action, the replacement, is admissible); sampled and temperature steps are not counted.
    trajectories = [
        traj((p, True), (g, True), (p, False)),
        traj((p, True), (StepSource.SAMPLED, True), (StepSource.TEMPERATURE, True), (p, True)),
    ]
    assert admissible_share(trajectories) == 3 / 5
    assert admissible_share([traj((g, True), (g, True))]) == 0.0
    assert admissible_share([traj((p, True))]) == 1.0
    assert admissible_share([traj((StepSource.SAMPLED, True))]) is None
    assert admissible_share([]) is None


def stored(task_type: str, won: bool) -> StoredTrajectory:
    return StoredTrajectory("id", 0, EVAL, "t", task_type, 0, won, float(won), traj())


def test_success_rates_overall_and_per_type():
    played = [stored("b", True), stored("a", False), stored("b", False), stored("a", True)]
    played.append(stored("a", True))
    assert success_rates(played) == (3 / 5, {"a": 2 / 3, "b": 0.5})
    assert success_rates([]) == (0.0, {})


def test_a_phase_name_says_how_its_episodes_are_grounded():
    assert extra_eval_phase("valid_unseen", 24, False) == "evaluate:valid_unseen:24:ungrounded"
    assert extra_eval_phase("valid_seen", 0, True) == "evaluate:valid_seen:all:grounded"


# --- the rounds over fakes (tests/unit/controller/fakes.py). Grounded, the base model's invalid
# action becomes a decoy (it wins nothing) and an adapter's becomes the key (it wins every task);
# ungrounded, the base model wins nothing and an adapter the even-numbered tasks (eval: T10-T13,
# 2 of each type).


async def test_the_ungrounded_evaluation_is_recorded_beside_the_grounded_one(tmp_path):
    ticks = iter(range(0, 10**6, 10))  # CPU seconds: 10 per reading
    store, runner, exp, _env, policy, *_ = make(
        tmp_path, evaluate_ungrounded=True, cpu_clock=lambda: float(next(ticks))
    )
    policy.grounds = True  # `a3t run --ground-actions`
    eid = exp.experiment_id
    await runner.run(eid)
    base = store.evaluation(eid, BASE_ROUND)
    # The base model says `dance wildly` until max_steps (6): grounded to a decoy, or as it is.
    assert (base.success_rate, base.admissible_share) == (0.0, 0.0)
    assert (base.ungrounded_success_rate, base.ungrounded_admissible_share) == (0.0, 0.0)
    grounded = store.trajectories(eid, BASE_ROUND, EVAL)
    ungrounded = store.trajectories(eid, BASE_ROUND, EVAL_UNGROUNDED)
    assert [len(t.trajectory.steps) for t in grounded + ungrounded] == [6] * 8
    assert {s.source for t in grounded for s in t.trajectory.steps} == {StepSource.GROUNDED}
    assert {s.source for t in ungrounded for s in t.trajectory.steps} == {StepSource.POLICY}
    assert {s.action for t in ungrounded for s in t.trajectory.steps} == {"dance wildly"}
    for round_ in (0, 1):
        ev, stats = store.evaluation(eid, round_), store.round(eid, round_).stats
        # The adapter opens the even boxes itself and is grounded on the odd ones (1 step
        # each): half its steps its own; ungrounded it wins the even ones in 1 step and fails
        # the odd ones in 6, so 2 of 14 steps are admissible.
        assert (ev.success_rate, ev.admissible_share) == (1.0, 0.5)
        assert (ev.ungrounded_success_rate, ev.ungrounded_admissible_share) == (0.5, 2 / 14)
        assert (stats.eval_success_rate, stats.eval_admissible_share) == (1.0, 0.5)
        assert stats.eval_ungrounded_success_rate == 0.5
        assert stats.eval_ungrounded_admissible_share == 2 / 14
        # Timed on its own (two clock readings, 10 CPU seconds apart) and left out of the
        # evaluate phase's seconds, which are the rest of the phase.
        assert stats.cpu_s[EVAL_UNGROUNDED] == 10.0
        assert stats.cpu_s["evaluate"] == 20.0  # 30 over the phase, less the 10
        assert set(stats.wall_s) == set(stats.cpu_s)
        assert (stats.groups_dropped[EVAL], stats.groups_dropped[EVAL_UNGROUNDED]) == (0, 0)
    # The grounded evaluation's episodes and cumulative success are its own.
    assert len(store.trajectories(eid, 1, EVAL)) == len(store.trajectories(eid, 1, EVAL_UNGROUNDED))
    assert store.evaluation(eid, 1).cumulative_success_rate == 1.0
    report = markdown_report(store, eid)
    assert "| eval success | admissible | ungrounded success | ungrounded admissible |" in report
    assert "| 0.0% | 0.0% | 0.0% | 0.0% |" in report  # base
    assert "| 100.0% | 50.0% | 50.0% | 14.3% |" in report  # rounds 0 and 1


async def test_without_the_option_no_ungrounded_episode_is_played(tmp_path):
    store, runner, exp, _env, policy, *_ = make(tmp_path, rounds=1)
    policy.grounds = True
    await runner.run(exp.experiment_id)
    base = store.evaluation(exp.experiment_id, BASE_ROUND)
    assert (base.success_rate, base.admissible_share, base.ungrounded_success_rate) == (0, 0, None)
    assert store.evaluation(exp.experiment_id, 0).admissible_share == 0.5
    assert store.trajectories(exp.experiment_id, phase=EVAL_UNGROUNDED) == []
    assert EVAL_UNGROUNDED not in store.round(exp.experiment_id, 0).stats.cpu_s
    report = markdown_report(store, exp.experiment_id)
    assert "| eval success | admissible | cumulative |" in report  # no ungrounded columns


async def test_a_crash_in_the_ungrounded_evaluation_resumes_it_and_redoes_nothing(tmp_path):
    store, runner, exp, env, policy, *_ = make(
        tmp_path, rounds=1, evaluate_ungrounded=True, concurrency=1
    )
    policy.grounds = True
    eid = exp.experiment_id
    env.crash_after = 4 + 2  # the base evaluation's 4 grounded episodes, 2 ungrounded, one by one
    with pytest.raises(RuntimeError, match="simulated crash"):
        await runner.run(eid)
    assert store.evaluation(eid, BASE_ROUND) is None  # recorded only once both are played
    before = {t.trajectory_id for t in store.trajectories(eid, BASE_ROUND)}
    assert len(store.trajectories(eid, BASE_ROUND, EVAL)) == 4
    assert len(store.trajectories(eid, BASE_ROUND, EVAL_UNGROUNDED)) == 2
    env.crash_after, env.creates = None, 0
    await runner.run(eid)
    after = store.trajectories(eid, BASE_ROUND)
    assert before <= {t.trajectory_id for t in after} and len(after) == 8
    base = store.evaluation(eid, BASE_ROUND)
    assert (base.success_rate, base.ungrounded_success_rate) == (0.0, 0.0)
    assert store.evaluation(eid, 0).ungrounded_success_rate == 0.5
    assert store.experiment(eid).state == "succeeded"


async def test_a_policy_service_that_grounds_every_caller_records_no_ungrounded_success(
    tmp_path, caplog
):
    store, runner, exp, _env, policy, *_ = make(tmp_path, rounds=1, evaluate_ungrounded=True)
    policy.service_grounds = True  # a request cannot turn its grounding off
    await runner.run(exp.experiment_id)
    for round_ in (BASE_ROUND, 0):
        ev = store.evaluation(exp.experiment_id, round_)
        assert (ev.ungrounded_success_rate, ev.ungrounded_admissible_share) == (None, None)
    assert store.evaluation(exp.experiment_id, 0).success_rate == 1.0
    assert "the policy service grounds every caller's actions" in caplog.text


async def test_evaluate_stored_plays_an_adapter_on_any_split_outside_the_rounds(tmp_path):
    store, runner, exp, env, policy, *_ = make(tmp_path, rounds=1)
    policy.grounds = True
    eid = exp.experiment_id
    await runner.run(eid)
    rounds_before = store.rounds(eid)
    trajectories_before = store.count("trajectories", eid)
    env.splits["other"] = [t for t in env.splits["train"]]  # T0-T5, 3 of each type
    row = await runner.evaluate_stored("t", 0, "other", grounded=False, count=4)
    assert (row.adapter, row.split, row.grounded, row.sample, row.n_tasks) == (
        "t-round-0",
        "other",
        False,
        4,
        4,
    )
    assert row.phase == "evaluate:other:4:ungrounded"
    played = store.trajectories(eid, 0, row.phase)
    assert (
        sorted(t.task_type for t in played)
        == ["look_at_obj_in_light"] * 2 + ["pick_and_place_simple"] * 2
    )
    # Ungrounded, the adapter wins its even tasks in 1 step and fails the odd in 6.
    evens = sum(int(t.task_id.split("-T")[1].split("/")[0]) % 2 == 0 for t in played)
    assert row.success_rate == evens / 4
    assert row.admissible_share == evens / (evens + 6 * (4 - evens))
    assert row.by_type == success_rates(played)[1]
    assert row.cpu_s is None and row.wall_s >= 0
    base = await runner.evaluate_stored(eid, BASE_ROUND, "eval", grounded=True)
    assert (base.adapter, base.n_tasks, base.success_rate, base.admissible_share) == (
        "base",
        4,
        0.0,
        0.0,
    )
    assert base.phase == "evaluate:eval:all:grounded"
    assert store.extra_evaluations(eid) == [row, base]
    # The rounds are as they were; the new episodes only under their own phases.
    assert store.rounds(eid) == rounds_before
    assert store.count("trajectories", eid) == trajectories_before + 4 + 4
    # Evaluating the same again plays nothing new and records the same.
    again = await runner.evaluate_stored("t", 0, "other", grounded=False, count=4)
    assert store.count("trajectories", eid) == trajectories_before + 8
    assert (again.success_rate, again.admissible_share) == (row.success_rate, row.admissible_share)
    assert len(store.extra_evaluations(eid)) == 2
    report = markdown_report(store, eid)
    assert "## Evaluations of stored adapters (`a3t evaluate`)" in report
    assert "| 0 (t-round-0) | other | off | 4 |" in report
    assert "| base | eval | on | 4 | 0.0% | 0.0% |" in report
    with pytest.raises(NotFound, match="no adapter version 3"):
        await runner.evaluate_stored(eid, 2, "eval", grounded=True)


async def test_a_fork_copies_the_base_models_ungrounded_evaluation_too(tmp_path):
    store, runner, source, env, *_ = make(
        tmp_path, rounds=1, selector="oracle", evaluate_ungrounded=True
    )
    await runner.run(source.experiment_id)
    config = {**store.experiment(source.experiment_id).config, "name": "f"}
    fork = store.create_experiment("f", "req-f", config)
    copied = store.fork_explored(source.experiment_id, fork.experiment_id)
    assert copied == 4 + 4 + 6 + 36  # base eval grounded and ungrounded, attempts, explorations
    creates = env.creates
    await runner.run(fork.experiment_id)
    assert env.creates - creates == 4 + 4  # only round 0's two evaluations ran
    assert store.evaluation(fork.experiment_id, BASE_ROUND) == replace(
        store.evaluation(source.experiment_id, BASE_ROUND), experiment_id=fork.experiment_id
    )
    assert len(store.trajectories(fork.experiment_id, BASE_ROUND, EVAL_UNGROUNDED)) == 4
