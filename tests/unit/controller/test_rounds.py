"""The round loop end to end over fakes: persistence, selection, composition, held-out guard,
evaluation, promotion, and resuming after a crash with nothing redone or lost."""

import json
import sqlite3
from collections import Counter

import pytest

from a3t.compose import WeightedChat, WeightedTrajectory, read_dataset
from a3t.errors import FailedPrecondition, InvalidArgument, Unavailable
from a3t_controller.config import ExperimentConfig
from a3t_controller.report import markdown_report
from a3t_controller.rounds import BASE_ROUND, RoundRunner, check_held_out
from a3t_controller.store import CriticAgreement, Store
from tests.unit.controller.fakes import (
    FakeEnv,
    fake_services,
    tasks,
)


def step_rows(store: Store, trajectory_id: str) -> list[dict]:
    """The steps table's rows of one trajectory, as a user reads them with SQL."""
    with sqlite3.connect(store.path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT * FROM steps WHERE trajectory_id = ? ORDER BY step_index", (trajectory_id,)
        )
        return [dict(r) for r in rows]


def pooled(store: Store, experiment_id: str) -> list[tuple[float, object]]:
    """(weight, trajectory as trained on) per pool entry."""
    return [(i.weight, i.trajectory) for i in store.pool(experiment_id)]


def make(tmp_path, on_progress=None, cpu_clock=None, with_critic=True, **overrides):
    env = FakeEnv({"train": tasks("train", 6), "eval": tasks("eval", 4, start=10)})
    services = fake_services(env, critic=with_critic)
    store = Store(tmp_path / "a3t.sqlite")
    fields = dict(
        name="t",
        train_split="train",
        eval_split="eval",
        rounds=2,
        max_steps=6,
        explore_attempts=6,
        explore_probability=(1.0, 0.5),
        max_positives_per_task=2,
        concurrency=3,
    )
    config = ExperimentConfig(**{**fields, **overrides})
    exp = store.create_experiment(config.name, "req-1", config.to_dict())
    return (
        store,
        RoundRunner(store, services, tmp_path / "artifacts", on_progress, cpu_clock),
        exp,
        env,
        services.policy,
        services.actre,
        services.trainer,
    )


async def test_two_rounds_persist_everything(tmp_path):
    store, runner, exp, env, policy, actre, trainer = make(tmp_path)
    await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    assert store.experiment(eid).state == "succeeded"
    # Round 0: the base policy fails every task; exploration with p=1 solves them via ActRe.
    r0 = store.round(eid, 0)
    assert r0.phase == "done"
    assert r0.stats.attempt_solved == 0 and r0.stats.explore_failed_tasks == 6
    explored = store.trajectories(eid, 0, "explore")
    winners = [t for t in explored if t.won]
    assert winners and actre.calls > 0
    # Selection is recorded with reasons; at most 2 positives per task, the shortest wins.
    sel = store.selections(eid, 0)
    assert len(sel) == len(explored)
    kept = {s.trajectory_id for s in sel if s.kept}
    assert {s.reason for s in sel if s.kept} == {"won (binarised reward 1)"}
    assert r0.stats.selected == len(kept) <= 12
    assert r0.stats.explained == len(kept)
    # Adaptive exploration: a task stops at its 2nd win (selection's cap) or after K = 6.
    runs_of = {}
    for t in explored:  # by task, then attempt
        runs_of.setdefault(t.task_id, []).append(t.won)
    for wins in runs_of.values():
        assert sum(wins) <= 2 and ((sum(wins) == 2 and wins[-1]) or len(wins) == 6)
    assert r0.stats.explore_episodes == len(explored) < 6 * 6
    assert r0.stats.explore_env_steps == sum(len(t.trajectory.steps) for t in explored)
    for t in winners:
        others = [w for w in winners if w.task_id == t.task_id and w.trajectory_id in kept]
        steps = step_rows(store, t.trajectory_id)
        assert all(s["synthesised"] == 1 and s["source"] in ("sampled", "forced") for s in steps)
        if t.trajectory_id in kept:  # explained by ActRe once kept, in the store too
            assert all(s["thought"].endswith("may help with the task") for s in steps)
            assert "unexplained_steps" not in t.trajectory.metadata
        else:  # a longer win over the cap: never trained on, never explained
            assert all(s["thought"] == "" for s in steps)
            assert all(len(o.trajectory.steps) <= len(t.trajectory.steps) for o in others)
    # Round 0 (p = 1) asked ActRe only for the kept trajectories, one call per step.
    round0_ids = {t.trajectory_id for t in explored}
    round0_calls = [e for e, _, _ in actre.seen if e in round0_ids]
    assert sorted(round0_calls) == sorted(
        t.trajectory_id for t in explored if t.trajectory_id in kept for _ in t.trajectory.steps
    )
    # Composition: round 0's failures are the base model's (made with the exemplar the trainer
    # does not render), so its explored tasks keep only their successes, 1/(K'+1) each before
    # the per-step scaling; from round 1 on every explored-then-solved task's weights sum to
    # zero per step (weight x steps), so shared step tokens cancel.
    request = trainer.requests[0]  # the trainer's fields, from the experiment's config
    assert abs(request.learning_rate - 1e-4) < 1e-12
    assert (request.lora_rank, request.lora_alpha, request.lora_target_modules) == (
        16,
        32,
        ("q_proj", "v_proj"),
    )
    assert (request.quantize_4bit, request.include_observation_tokens, request.seed) == (
        False,
        False,
        0,
    )
    pool = pooled(store, eid)
    by_task = {}
    for w, t in pool:
        by_task.setdefault((t.round, t.task.task_id), []).append((w, len(t.steps)))
    round0 = [ws for (r, _), ws in by_task.items() if r == 0]
    assert round0 and all(w > 0 for ws in round0 for w, _ in ws)
    for ws in round0:  # every success weighs each of its steps the same: 1/(K'+1) x mean steps
        mean = sum(n for _, n in ws) / len(ws)
        assert all(abs(w * n - mean / (len(ws) + 1)) < 1e-9 for w, n in ws)
    assert r0.stats.base_negatives_dropped == len(round0)
    round1 = [ws for (r, _), ws in by_task.items() if r == 1]
    assert all(ws == [(1.0, ws[0][1])] or abs(sum(w * n for w, n in ws)) < 1e-9 for ws in round1)
    assert any(w < 0 for ws in round1 for w, _ in ws)
    # Each failure is trained on over no more steps than its task's longest success.
    for ws in round1:
        longest = max((n for w, n in ws if w > 0), default=0)
        assert all(n <= longest for w, n in ws if w < 0)
    # The failures ran to the step limit (6): each was cut unless its task's longest success
    # took 6 steps too (exploration draws are seeded by the experiment's id, so that varies).
    cut = sum(1 for ws in round1 for w, _ in ws if w < 0 and max(n for v, n in ws if v > 0) < 6)
    assert store.round(eid, 1).stats.negatives_truncated == cut > 0
    assert all(t.task.split == "train" for _, t in pool)
    # Round 1 used round 0's adapter; it solves even tasks directly (+1 each) .
    r1 = store.round(eid, 1)
    assert r1.policy_adapter == "t-round-0"
    assert r1.stats.attempt_solved == 3
    assert trainer.requests[1].epochs == 6 and trainer.requests[0].epochs == 10
    # Evaluations: base, then both rounds; the adapters were promoted after evaluation.
    base = store.evaluation(eid, BASE_ROUND)
    assert base.success_rate == 0.0
    ev = store.evaluation(eid, 1)
    assert ev.success_rate == 0.5 and ev.cumulative_success_rate == 0.5
    assert set(ev.by_type) == {"pick_and_place_simple", "look_at_obj_in_light"}
    assert store.promoted_adapter(eid).name == "t-round-1"
    # Every episode released its policy cache and env session.
    assert env.sessions == {}
    assert len(policy.ended) == store.count("trajectories", eid)


async def test_resume_after_crash_redoes_and_loses_nothing(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path)
    eid = exp.experiment_id
    env.crash_after = 14  # base eval (4) + attempt (6) + 4 explore episodes
    with pytest.raises(RuntimeError, match="simulated crash"):
        await runner.run(eid)
    assert store.experiment(eid).state == "failed"
    before = {t.trajectory_id for t in store.trajectories(eid)}
    assert len(before) >= 10
    env.crash_after = None
    await runner.run(eid)
    after = store.trajectories(eid)
    assert before <= {t.trajectory_id for t in after}
    keys = [(t.round, t.phase, t.task_id, t.attempt) for t in after]
    assert len(keys) == len(set(keys))
    assert store.experiment(eid).state == "succeeded"


async def test_crash_while_explaining_kept_episodes_resumes_in_select(tmp_path):
    store, runner, exp, _env, _p, actre, _t = make(tmp_path, rounds=1)
    eid = exp.experiment_id
    actre.fail_after = 5  # in round 0 (p = 1) every ActRe call is selection's
    with pytest.raises(RuntimeError, match="simulated ActRe crash"):
        await runner.run(eid)
    assert store.round(eid, 0).phase == "select" and store.selections(eid, 0) == []
    episodes = len(store.trajectories(eid, 0, "explore"))
    actre.fail_after = None
    await runner.run(eid)
    assert store.experiment(eid).state == "succeeded"
    assert len(store.trajectories(eid, 0, "explore")) == episodes  # no episode re-run
    kept = {s.trajectory_id for s in store.selections(eid, 0) if s.kept}
    for t in store.trajectories(eid, 0, "explore"):
        thoughts = [s["thought"] for s in step_rows(store, t.trajectory_id)]
        assert all(thoughts) == (t.trajectory_id in kept)


async def test_crash_in_training_resumes_at_training(tmp_path):
    store, runner, exp, _env, _p, _a, trainer = make(tmp_path, rounds=1)
    trainer.fail = True
    with pytest.raises(RuntimeError):
        await runner.run(exp.experiment_id)
    assert store.round(exp.experiment_id, 0).phase == "train"
    n = store.count("trajectories", exp.experiment_id)
    trainer.fail = False
    await runner.run(exp.experiment_id)
    # No episode of round 0 was run again: only the evaluation of the new adapter was added.
    assert store.count("trajectories", exp.experiment_id) == n + 4


async def test_no_actre_baseline_explores_by_temperature(tmp_path):
    store, runner, exp, _env, _p, actre, _t = make(tmp_path, use_actre=False, rounds=1)
    await runner.run(exp.experiment_id)
    assert actre.calls == 0
    sources = {
        s["source"]
        for t in store.trajectories(exp.experiment_id, 0, "explore")
        for s in step_rows(store, t.trajectory_id)
    }
    assert "temperature" in sources and "sampled" not in sources


async def test_stop_at_first_success_ends_each_tasks_exploration_at_its_first_win(tmp_path):
    store, runner, exp, *_ = make(tmp_path, rounds=1, stop_at_first_success=True)
    await runner.run(exp.experiment_id)
    explored = store.trajectories(exp.experiment_id, 0, "explore")  # by task, then attempt
    by_task = {}
    for t in explored:
        by_task.setdefault(t.task_id, []).append(t)
    assert len(by_task) == 6  # every task failed its attempt
    for runs in by_task.values():
        assert [t.attempt for t in runs] == list(range(len(runs)))
        assert not any(t.won for t in runs[:-1])
        assert runs[-1].won or len(runs) == 6  # K = 6
    assert len(explored) < 6 * 6


async def test_critic_selectors_explore_all_k_attempts(tmp_path):
    """The critic loop scores every candidate: no stop at the cap of wins."""
    store, runner, exp, *_ = make(tmp_path, rounds=1, selector="oracle")
    await runner.run(exp.experiment_id)
    assert len(store.trajectories(exp.experiment_id, 0, "explore")) == 6 * 6


async def test_an_env_step_budget_bounds_exploration_and_spreads_it_over_the_tasks(tmp_path):
    # No task can win (the key action is never sampled): without the budget, 6 x 6 episodes.
    store, runner, exp, *_ = make(
        tmp_path, rounds=1, explore_step_budget=100, explore_skip_verbs=("open",)
    )
    with pytest.raises(FailedPrecondition, match="training pool is empty"):
        await runner.run(exp.experiment_id)
    explored = store.trajectories(exp.experiment_id, 0, "explore")
    steps = sum(len(t.trajectory.steps) for t in explored)
    # Each episode runs to max_steps (6): an episode starts only while 6 more steps fit,
    # counting those in play; so 16 episodes, 96 steps.
    assert steps == 96 and len(explored) == 16
    attempts = {t.task_id: 0 for t in explored}
    for t in explored:
        attempts[t.task_id] += 1
    assert sorted(attempts.values()) == [2, 2, 3, 3, 3, 3]  # round-robin over the tasks
    assert store.round(exp.experiment_id, 0).stats.explore_env_steps == 96


async def test_a_resumed_exploration_counts_the_stored_steps_against_the_budget(tmp_path):
    store, runner, exp, env, *_ = make(
        tmp_path, rounds=1, explore_step_budget=100, explore_skip_verbs=("open",)
    )
    env.crash_after = 6 + 4 + 8  # the base eval (4), the attempts (6), 8 explorations
    with pytest.raises(RuntimeError, match="simulated crash"):
        await runner.run(exp.experiment_id)
    env.crash_after = None
    with pytest.raises(FailedPrecondition, match="training pool is empty"):
        await runner.run(exp.experiment_id)
    explored = store.trajectories(exp.experiment_id, 0, "explore")
    assert sum(len(t.trajectory.steps) for t in explored) <= 100
    assert len(explored) == 16


async def test_base_negatives_on_balances_round_0(tmp_path):
    store, runner, exp, *_ = make(tmp_path, base_negatives=True, rounds=1)
    await runner.run(exp.experiment_id)
    by_task = {}
    for w, t in pooled(store, exp.experiment_id):
        by_task.setdefault(t.task.task_id, []).append((w, len(t.steps)))
    # Per step (weight x steps) the contrastive weights of each task sum to zero.
    assert by_task and all(
        abs(sum(w * n for w, n in ws)) < 1e-9 and min(ws)[0] < 0 for ws in by_task.values()
    )
    assert store.round(exp.experiment_id, 0).stats.base_negatives_dropped == 0


async def test_per_trajectory_weights_when_per_step_is_off(tmp_path):
    store, runner, exp, *_ = make(tmp_path, base_negatives=True, per_step_weights=False, rounds=1)
    await runner.run(exp.experiment_id)
    by_task = {}
    for w, t in pooled(store, exp.experiment_id):
        by_task.setdefault(t.task.task_id, []).append(w)
    # The paper's weights: +1/(K'+1) per success, -K'/(K'+1) for the failure, whatever the lengths.
    for ws in by_task.values():
        k = len(ws) - 1
        assert sorted(ws) == [-k / (k + 1)] + [1 / (k + 1)] * k


async def test_sft_only_has_no_negative_weights(tmp_path):
    store, runner, exp, *_ = make(tmp_path, sft_only=True, rounds=1)
    await runner.run(exp.experiment_id)
    weights = [w for w, _ in pooled(store, exp.experiment_id)]
    assert weights and all(w == 1.0 for w in weights)


async def test_critic_and_hybrid_selection(tmp_path):
    store, runner, exp, *_ = make(tmp_path, selector="hybrid", rounds=1)
    await runner.run(exp.experiment_id)
    stats = store.round(exp.experiment_id, 0).stats
    assert stats.critic_env_agreement > 0
    assert {s.selector for s in store.selections(exp.experiment_id, 0)} == {"env", "critic"}


@pytest.mark.parametrize("selector", ["oracle", "random"])
async def test_oracle_and_random_select_without_a_critic(tmp_path, selector):
    store, runner, exp, *_ = make(
        tmp_path,
        with_critic=False,
        selector=selector,
        rounds=1,
        critic_top_fraction=1.0,
        critic_per_task_cap=1,
    )
    await runner.run(exp.experiment_id)
    rows = store.selections(exp.experiment_id, 0)
    explored = {t.trajectory_id: t for t in store.trajectories(exp.experiment_id, 0, "explore")}
    assert {r.selector for r in rows} == {selector} and len(rows) == len(explored) == 36
    kept = [explored[r.trajectory_id] for r in rows if r.kept]
    stats = store.round(exp.experiment_id, 0).stats
    # 6 failed tasks x 6 attempts, all eligible ranks in the top fraction, 1 per task: the oracle
    # keeps one win of each task exploration solved, random one trajectory of each task.
    expected = stats.explore_solved if selector == "oracle" else 6
    assert stats.kept[selector] == len(kept) == stats.selected == expected
    assert len({t.task_id for t in kept}) == expected
    assert [t.won for t in kept] == [True] * expected or selector == "random"
    assert stats.critic is None


async def test_report_shows_the_critics_agreement_where_it_scored(tmp_path):
    # 2-step episodes: a sampled episode (one of 3 explorable actions a step) loses with
    # probability 4/9, so the 36 candidates hold both wins and losses and the AUC is defined.
    # With 6 steps all 36 won about once in 30 runs (episode ids, so the samples, are random).
    store, runner, exp, *_ = make(
        tmp_path,
        selector="hybrid",
        rounds=1,
        max_steps=2,
        critic_top_fraction=1.0,
        critic_per_task_cap=9,
    )
    await runner.run(exp.experiment_id)
    stats = store.round(exp.experiment_id, 0).stats
    # FakeCritic scores 9 a won and 2 a lost trajectory: it keeps exactly the won ones.
    assert stats.critic == CriticAgreement(1, 1, 1)
    lines = markdown_report(store, exp.experiment_id).splitlines()
    assert "| pool | critic precision | critic recall | critic AUC | eval success |" in lines[2]
    base, round_0 = lines[4], lines[5]
    assert "| - | - | - |" in base and "| 100.0% | 100.0% | 1.00 |" in round_0


def test_held_out_tasks_never_trained_on():
    train, ev = [*tasks("train", 3)], tasks("train", 2)
    with pytest.raises(FailedPrecondition, match="held-out"):
        check_held_out(train, ev)
    with pytest.raises(Exception, match="held-out"):
        ExperimentConfig.from_dict({"train_split": "a", "eval_split": "a"})


async def test_report_plot_and_export(tmp_path):
    import json

    from a3t_controller.report import export_jsonl, markdown_report, plot_report

    store, runner, exp, *_ = make(tmp_path)
    await runner.run(exp.experiment_id)
    table = markdown_report(store, exp.experiment_id)
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| round | phase | attempt solved")
    assert [line.split(" | ")[0] for line in lines[1:]] == ["| base", "| 0", "| 1"]
    assert "| 50.0% |" in lines[-1]
    png = plot_report(store, exp.experiment_id, tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    n = export_jsonl(store, exp.experiment_id, tmp_path / "out.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == len(rows) == store.count("trajectories", exp.experiment_id)
    assert len({tuple(sorted(r)) for r in rows}) == 1  # one schema: a datasets table
    assert any(s["source"] == "sampled" for r in rows for s in r["steps"])


async def test_each_phase_records_its_wall_and_cpu_seconds(tmp_path):
    ticks = iter(range(0, 10_000, 3))  # the CPU clock advances 3 s per reading
    store, runner, exp, *_ = make(tmp_path, cpu_clock=lambda: float(next(ticks)), rounds=1)
    await runner.run(exp.experiment_id)
    stats = store.round(exp.experiment_id, 0).stats
    for phase in ("attempt", "explore", "select", "compose", "train", "evaluate", "promote"):
        assert stats.cpu_s[phase] == 3.0  # one reading at each phase boundary
        assert stats.wall_s[phase] >= 0
    report = markdown_report(store, exp.experiment_id)
    assert "| CPU min |" in report.splitlines()[2] and "| 0.3 |" in report  # 7 x 3 s


async def test_without_a_cpu_clock_only_wall_seconds_are_recorded(tmp_path):
    store, runner, exp, *_ = make(tmp_path, rounds=1)
    await runner.run(exp.experiment_id)
    stats = store.round(exp.experiment_id, 0).stats
    assert "train" in stats.wall_s and stats.cpu_s == {}


async def test_chat_data_is_mixed_into_each_rounds_dataset(tmp_path):
    chat = tmp_path / "chat.jsonl"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    chat.write_text(json.dumps({"messages": messages}) + "\n")
    store, runner, exp, *_, trainer = make(
        tmp_path, rounds=1, chat_data_uri=str(chat), chat_data_ratio=0.5
    )
    await runner.run(exp.experiment_id)
    items = read_dataset(trainer.requests[0].dataset_uri)
    trajectories = [i for i in items if isinstance(i, WeightedTrajectory)]
    chats = [i for i in items if isinstance(i, WeightedChat)]
    assert trajectories and len(chats) == round(0.5 * len(trajectories))
    assert chats[0].messages[1].content == "hello"
    assert store.round(exp.experiment_id, 0).stats.train_chat_examples == len(chats)


async def test_a_bad_chat_file_fails_the_experiment_before_any_episode(tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    store, runner, exp, *_ = make(tmp_path, chat_data_uri=str(chat), chat_data_ratio=0.5)
    with pytest.raises(InvalidArgument, match=r"chat\.jsonl:1: no assistant message"):
        await runner.run(exp.experiment_id)
    assert store.experiment(exp.experiment_id).state == "failed"
    assert store.trajectories(exp.experiment_id) == []


async def test_an_episode_the_env_lost_is_played_again_and_stored_once(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path, rounds=1)
    env.lose_sessions = 3  # three steps find their session gone, as after an env restart
    await runner.run(exp.experiment_id)
    keys = [(t.phase, t.round, t.task_id, t.attempt) for t in store.trajectories(exp.experiment_id)]
    assert len(keys) == len(set(keys))
    # Every episode was stored: 4 base evals, 6 attempts, the explorations, 4 evals.
    explored = store.round(exp.experiment_id, 0).stats.explore_episodes
    assert len(keys) == 4 + 6 + explored + 4 and explored >= 12  # 2 wins for each of 6 tasks
    assert store.experiment(exp.experiment_id).state == "succeeded"
    assert env.sessions == {}  # nothing left open


async def test_an_env_that_keeps_losing_an_episode_fails_the_experiment_clearly(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path, rounds=1)
    env.lose_sessions = 10**6
    with pytest.raises(Unavailable, match=r"eval: the rollouts of 4 of 4 tasks failed .* 4 times"):
        await runner.run(exp.experiment_id)
    assert store.experiment(exp.experiment_id).state == "failed"
    # Nothing recorded as dropped: a resume, once the env is fixed, plays them all again.
    assert store.dropped_groups(exp.experiment_id, BASE_ROUND, "eval") == {}
    env.lose_sessions = 0
    await runner.run(exp.experiment_id)
    assert store.experiment(exp.experiment_id).state == "succeeded"
    assert len(store.trajectories(exp.experiment_id, BASE_ROUND, "eval")) == 4


async def test_a_refused_rollout_is_played_again_and_stored_once(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path, rounds=1)
    task = "pick_and_place_simple-T1/trial"
    env.refuse = {task: range(1, 3)}  # its first two sessions are refused, the third plays
    await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    stats = store.round(eid, 0).stats
    assert (stats.rollouts_retried["attempt"], stats.groups_dropped["attempt"]) == (2, 0)
    assert [t.task_id for t in store.trajectories(eid, 0, "attempt")].count(task) == 1
    assert store.dropped_groups(eid, 0, "attempt") == {}


async def test_a_rollout_that_keeps_failing_drops_its_tasks_group_for_the_phase(tmp_path):
    # explore_wins above K: every task plays all K = 6 explorations.
    store, runner, exp, env, *_ = make(tmp_path, rounds=1, explore_wins=7)
    task = "pick_and_place_simple-T1/trial"
    # Its attempt and first two explorations play; the third exploration is refused every time.
    env.refuse = {task: range(4, 10**6)}
    await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    assert store.experiment(eid).state == "succeeded"
    stats = store.round(eid, 0).stats
    assert (stats.rollouts_retried["explore"], stats.groups_dropped["explore"]) == (3, 1)
    assert stats.explore_failed_tasks == 6
    assert stats.explore_episodes == 5 * 6  # the dropped group's two are not counted
    dropped = store.dropped_groups(eid, 0, "explore")
    assert list(dropped) == [task]
    assert "INVALID_ARGUMENT" in dropped[task]
    # Its two stored explorations stay for inspection; nothing of the task is selected or
    # trained on: not its wins, and not its failed attempt as a negative.
    stored = store.trajectories(eid, 0, "explore", task)
    assert len(stored) == 2
    ids = {t.trajectory_id for t in store.trajectories(eid) if t.task_id == task}
    assert not ids & {r.trajectory_id for r in store.selections(eid, 0)}
    assert all(t.task.task_id != task for _, t in pooled(store, eid))
    assert len({t.task.task_id for _, t in pooled(store, eid)}) == 5
    lines = markdown_report(store, eid).splitlines()
    head = [c.strip() for c in lines[2].split("|")]
    row = dict(zip(head, (c.strip() for c in lines[5].split("|")), strict=True))
    assert (row["round"], row["rollouts retried"], row["groups dropped"]) == ("0", "3", "1")


async def test_a_failed_training_run_is_retried_under_a_new_request_id_on_resume(tmp_path):
    store, runner, exp, *_, trainer = make(tmp_path, rounds=1)
    trainer.fail = True
    with pytest.raises(RuntimeError, match="simulated trainer crash"):
        await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    assert store.training(eid, 0).state == "failed"
    assert store.experiment(eid).current_phase == "train"
    trainer.fail = False
    await runner.run(eid)  # what ResumeExperiment and `a3t run --name` do
    assert [r.request_id for r in trainer.requests] == [f"{eid}-round-0-retry1"]
    assert store.training(eid, 0).state == "succeeded"
    assert store.experiment(eid).state == "succeeded"


async def test_task_limits_draw_a_seeded_sample_not_the_first_ids(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path, rounds=1, max_train_tasks=3, max_eval_tasks=2)
    env.splits["train"] = tasks("train", 40, start=20)  # ids apart from eval's T10-T13
    await runner.run(exp.experiment_id)
    attempts = store.trajectories(exp.experiment_id, 0, "attempt")
    trained = sorted({t.task_id for t in attempts})
    assert len(trained) == 3
    assert trained != sorted(t.task_id for t in tasks("train", 40, start=20))[:3]
    # stratified: both task types, 2 and 1 (the held-out sample: 1 and 1)
    assert sorted(Counter(t.task_type for t in attempts).values()) == [1, 2]
    held_out = store.trajectories(exp.experiment_id, BASE_ROUND, "eval")
    assert sorted(t.task_type for t in held_out) == [
        "look_at_obj_in_light",
        "pick_and_place_simple",
    ]
    again = await runner._tasks("alfworld", "train", 3, seed=0)
    assert [t.task_id for t in again] == trained  # the same sample on resume
    other = await runner._tasks("alfworld", "train", 3, seed=1)
    assert [t.task_id for t in other] != trained


async def test_a_fork_selects_the_sources_explored_data_without_exploring_again(tmp_path):
    store, runner, source, env, *_ = make(tmp_path, rounds=1, selector="oracle")
    await runner.run(source.experiment_id)
    config = ExperimentConfig(**{**store.experiment(source.experiment_id).config, "name": "f"})
    config = ExperimentConfig.from_dict({**config.to_dict(), "selector": "random"})
    assert config.explores_unlike(ExperimentConfig.from_dict(source.config)) == []
    # The env selector stops exploring a task at its cap of wins; the others play all K.
    env_selected = ExperimentConfig.from_dict({**config.to_dict(), "selector": "env"})
    assert env_selected.explores_unlike(config) == [
        "when exploration stops (selector, max_positives_per_task)"
    ]
    fork = store.create_experiment("f", "req-f", config.to_dict())
    copied = store.fork_explored(source.experiment_id, fork.experiment_id)
    creates = env.creates
    await runner.run(fork.experiment_id)

    def explored(eid):
        return [
            # Actions, not thoughts: each selector's kept trajectories get their rationales.
            (t.round, t.phase, t.task_id, t.attempt, t.won, [s.action for s in t.trajectory.steps])
            for t in store.trajectories(eid)
            if t.phase != "eval" or t.round == BASE_ROUND
        ]

    assert explored(fork.experiment_id) == explored(source.experiment_id)
    assert copied == len(explored(source.experiment_id)) == 4 + 6 + 36
    assert env.creates - creates == 4  # only round 0's evaluation ran
    assert {s.selector for s in store.selections(fork.experiment_id, 0)} == {"random"}
    assert store.round(fork.experiment_id, 0).stats.forked_from == source.experiment_id
    ids = {t.trajectory_id for t in store.trajectories(source.experiment_id)}
    assert ids.isdisjoint(t.trajectory_id for t in store.trajectories(fork.experiment_id))


async def test_a_fork_is_refused_before_exploration_and_onto_data(tmp_path):
    store, runner, source, *_ = make(tmp_path, rounds=1)
    other = store.create_experiment("g", "req-g", ExperimentConfig(name="g").to_dict())
    with pytest.raises(FailedPrecondition, match="has not finished exploring round 0"):
        store.fork_explored(source.experiment_id, other.experiment_id)
    await runner.run(source.experiment_id)
    with pytest.raises(FailedPrecondition, match="already has data"):
        store.fork_explored(source.experiment_id, source.experiment_id)
    changed = ExperimentConfig(name="h", train_split="train", eval_split="eval", seed=4)
    assert changed.explores_unlike(ExperimentConfig.from_dict(source.config)) == [
        "max_steps",
        "explore_attempts",
        "explore_probability",
        "seed",
        "when exploration stops (selector, max_positives_per_task)",
    ]
