"""The curriculum option: each round trains on generated games of its level, one listed level up
once the previous round's attempt success rate reaches the threshold; the level is stored per
round and a resumed experiment finds the same levels."""

import pytest

from a3t.errors import ConfigError, FailedPrecondition
from a3t_controller.config import ExperimentConfig
from tests.unit.controller.fakes import tasks
from tests.unit.controller.test_rounds import make

# The fake policy solves no task without an adapter and the even-numbered half with one, so the
# attempt success rate is 0 in round 0 and 2/4 = 0.5 in every later round (4 games per level).
CURRICULUM = dict(rounds=4, curriculum_train_count=4, curriculum_seed=7)


def levels_of(store, eid):
    return [r.level for r in store.rounds(eid)]


@pytest.mark.parametrize(
    ("levels", "threshold", "expected"),
    [
        ((1, 3, 4), 0.5, [1, 1, 3, 4]),  # 0.5 reaches the threshold: up one listed level
        ((1, 2), 0.5, [1, 1, 2, 2]),  # capped at the last level
        ((1, 2, 3), 0.6, [1, 1, 1, 1]),  # 0.5 stays below it: the level holds
    ],
)
async def test_levels_follow_the_attempt_success_rate(tmp_path, levels, threshold, expected):
    store, runner, exp, env, *_ = make(
        tmp_path, curriculum_levels=levels, curriculum_threshold=threshold, **CURRICULUM
    )
    eid = exp.experiment_id
    await runner.run(eid)
    assert store.experiment(eid).state == "succeeded"
    assert levels_of(store, eid) == expected
    splits = [f"gen_l{level}_s7_n4" for level in expected]
    assert env.generated == [(s, level, 7, 4) for s, level in zip(splits, expected, strict=True)]
    rounds = store.rounds(eid)
    assert [r.stats.train_level for r in rounds] == expected
    assert [r.stats.train_split for r in rounds] == splits
    assert [r.stats.attempt_solved for r in rounds] == [0, 2, 2, 2]
    # Each round attempted its level's games, never train_split; the pool spans the levels.
    for r, split in enumerate(splits):
        assert {t.trajectory.task.split for t in store.trajectories(eid, r, "attempt")} == {split}
        assert len(store.trajectories(eid, r, "attempt")) == 4
    assert {i.trajectory.task.split for i in store.pool(eid)} == set(splits)
    assert {t.trajectory.task.split for t in store.trajectories(eid, phase="eval")} == {"eval"}
    from a3t_controller.report import markdown_report

    report = markdown_report(store, eid).splitlines()
    assert report[2].startswith("| round | level | phase |")
    assert [line.split(" | ")[1] for line in report[5:]] == [str(lv) for lv in expected]


@pytest.mark.parametrize(
    ("crash_round", "crash_phase"),
    [(1, "evaluate"), (2, "attempt")],  # before round 2 exists / after it was stored
)
async def test_resume_after_crash_finds_the_same_levels(tmp_path, crash_round, crash_phase):
    armed = []

    def crash_soon(progress):  # the second env session from here on fails, once
        if (progress.round, progress.phase) == (crash_round, crash_phase) and not armed:
            armed.append(True)
            env.crash_after = env.creates + 1

    store, runner, exp, env, *_ = make(
        tmp_path, on_progress=crash_soon, curriculum_levels=(1, 3, 4), **CURRICULUM
    )
    eid = exp.experiment_id
    with pytest.raises(RuntimeError, match="simulated crash"):
        await runner.run(eid)
    assert store.experiment(eid).state == "failed"
    assert levels_of(store, eid) == [1, 1, 3][: crash_round + 1]
    env.crash_after = None
    await runner.run(eid)
    assert store.experiment(eid).state == "succeeded"
    assert levels_of(store, eid) == [1, 1, 3, 4]
    assert [r.stats.train_level for r in store.rounds(eid)] == [1, 1, 3, 4]
    keys = [(t.round, t.phase, t.task_id, t.attempt) for t in store.trajectories(eid)]
    assert len(keys) == len(set(keys))


async def test_generated_tasks_that_are_held_out_are_refused(tmp_path):
    store, runner, exp, env, *_ = make(tmp_path, curriculum_levels=(1, 2), **CURRICULUM)
    env.splits["eval"] = tasks("eval", 2, start=101)  # the same task ids as 2 level-1 games
    with pytest.raises(FailedPrecondition, match="2 evaluation tasks are also training tasks"):
        await runner.run(exp.experiment_id)
    assert store.experiment(exp.experiment_id).state == "failed"
    assert store.trajectories(exp.experiment_id, 0) == []  # refused before any round-0 episode


def test_curriculum_defaults_and_split_names():
    config = ExperimentConfig()
    assert config.curriculum_levels == ()
    assert ExperimentConfig.from_dict({"curriculum_levels": [1, 2]}).curriculum_levels == (1, 2)
    # Level 5 sits between 1 and 2 in difficulty: a curriculum lists levels easiest first.
    levels = ExperimentConfig.from_dict({"curriculum_levels": [1, 5, 2]}).curriculum_levels
    assert levels == (1, 5, 2)
    assert config.curriculum_split(2) == "gen_l2_s0_n16"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"curriculum_levels": [0, 1]}, "curriculum_levels must be levels of [1, 5, 2, 3, 4]"),
        ({"curriculum_levels": [1, 6]}, "curriculum_levels must be levels of"),
        ({"curriculum_levels": [2, 1]}, "curriculum_levels must be levels of"),
        ({"curriculum_levels": [2, 5]}, "curriculum_levels must be levels of"),  # 5 is easier
        ({"curriculum_levels": [1, 1, 2]}, "curriculum_levels must be levels of"),
        ({"curriculum_levels": [1], "curriculum_threshold": 0.0}, "curriculum_threshold must"),
        ({"curriculum_levels": [1], "curriculum_threshold": 1.5}, "curriculum_threshold must"),
        ({"curriculum_levels": [1], "curriculum_train_count": 0}, "curriculum_train_count must"),
        ({"curriculum_levels": [1], "curriculum_seed": -1}, "curriculum_seed must be >= 0"),
        (
            {"curriculum_levels": [1, 2], "eval_split": "gen_l2_s0_n16"},
            "eval_split 'gen_l2_s0_n16' is the curriculum's level-2 training split",
        ),
    ],
)
def test_bad_curriculum_config_names_the_field(fields, message):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict(fields)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(message)


async def test_extra_splits_are_evaluated_every_round_and_never_trained_on(tmp_path):
    store, runner, exp, env, *_ = make(
        tmp_path,
        rounds=2,
        curriculum_levels=(1, 2),
        extra_eval_splits=("gen_l2_s1000_n4", "unseen"),
        max_extra_eval_tasks=3,
        **{k: v for k, v in CURRICULUM.items() if k != "rounds"},
    )
    env.splits["gen_l2_s1000_n4"] = tasks("gen_l2_s1000_n4", 4, start=60)
    env.splits["unseen"] = tasks("unseen", 6, start=70)
    eid = exp.experiment_id
    await runner.run(eid)
    assert store.experiment(eid).state == "succeeded"
    rows = {(r.round, r.split): r for r in store.extra_evaluations(eid)}
    assert sorted(rows) == [(r, s) for r in (-1, 0, 1) for s in ("gen_l2_s1000_n4", "unseen")]
    assert [rows[r, "unseen"].n_tasks for r in (-1, 0, 1)] == [3, 3, 3]  # the sample
    assert [rows[r, "gen_l2_s1000_n4"].n_tasks for r in (-1, 0, 1)] == [3, 3, 3]
    # The fake policy wins even-numbered tasks once it has an adapter: never before.
    assert rows[-1, "unseen"].success_rate == 0.0 and rows[-1, "unseen"].adapter == "base"
    assert rows[1, "unseen"].adapter == store.adapter(eid, 2).name
    assert all(r.grounded for r in rows.values())
    pooled = {i.trajectory.task.split for i in store.pool(eid)}
    assert not pooled & {"gen_l2_s1000_n4", "unseen"}
    # Timed apart from the evaluation proper.
    assert "eval_extra" in store.round(eid, 0).stats.wall_s


def test_an_extra_eval_split_that_is_trained_on_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"extra_eval_splits names 'train', a training split"):
        ExperimentConfig.from_dict({"train_split": "train", "extra_eval_splits": ["train"]})
    with pytest.raises(ConfigError, match=r"'gen_l2_s0_n16', a training split"):
        ExperimentConfig.from_dict(
            {"curriculum_levels": [1, 2], "extra_eval_splits": ["gen_l2_s0_n16"]}
        )
    with pytest.raises(ConfigError, match=r"max_extra_eval_tasks must be >= 0, got -1"):
        ExperimentConfig.from_dict({"max_extra_eval_tasks": -1})
