"""Weight composition (DESIGN.md step 4) and the weighted-dataset JSONL."""

import json
import math
from dataclasses import replace

import pytest

from a3t.compose import (
    ComposeRules,
    TaskOutcome,
    WeightedChat,
    WeightedTrajectory,
    compose,
    compose_task,
    compose_weights,
    mix_chats,
    per_step,
    read_chat_file,
    read_dataset,
    truncate_negatives,
    write_dataset,
)
from a3t.errors import InvalidArgument
from a3t.trajectory import Step, Task, Trajectory


def _t(task_id: str, won: bool, tag: str = "") -> Trajectory:
    return Trajectory(
        task=Task(env="alfworld", task_id=task_id),
        initial_observation="room",
        steps=(Step(action=f"go to {tag or task_id}", observation="ok", done=True),),
        won=won,
        reward=float(won),
        trajectory_id=f"{task_id}-{tag}",
    )


def test_directly_solved_task_gets_weight_one_and_ignores_explored_successes():
    own = _t("a", won=True)
    items = compose_task(TaskOutcome(own, successes=(_t("a", True, "x"),)))
    assert items == [WeightedTrajectory(1.0, own)]


@pytest.mark.parametrize("k", [1, 2, 5])
def test_explored_task_weights_successes_and_own_failure_with_a_zero_sum(k):
    own = _t("b", won=False)
    successes = tuple(_t("b", True, f"s{i}") for i in range(k))
    items = compose_task(TaskOutcome(own, successes))
    assert [i.trajectory for i in items] == [*successes, own]
    assert [i.weight for i in items[:-1]] == [1 / (k + 1)] * k
    assert items[-1].weight == -k / (k + 1)
    assert math.isclose(sum(i.weight for i in items), 0.0, abs_tol=1e-12)


def test_unsolved_task_is_dropped_and_order_follows_the_outcomes():
    solved, explored, unsolved = _t("a", True), _t("b", False), _t("c", False)
    success = _t("b", True, "s")
    items = compose_weights(
        [TaskOutcome(solved), TaskOutcome(explored, (success,)), TaskOutcome(unsolved)]
    )
    assert [(i.trajectory.task.task_id, i.weight) for i in items] == [
        ("a", 1.0),
        ("b", 0.5),
        ("b", -0.5),
    ]


def test_dataset_round_trip(tmp_path):
    items = [WeightedTrajectory(1.0, _t("a", True)), WeightedTrajectory(-0.5, _t("b", False))]
    path = write_dataset(tmp_path / "sub" / "data.jsonl", items)
    assert read_dataset(path) == items
    assert [json.loads(line)["weight"] for line in path.read_text().splitlines()] == [1.0, -0.5]
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"weight": "high", "trajectory": TRAJ}', "weight must be a finite number, got 'high'"),
        ('{"weight": true, "trajectory": TRAJ}', "weight must be a finite number, got True"),
        ('{"weight": NaN, "trajectory": TRAJ}', "weight must be a finite number, got nan"),
        ('{"weight": 1, "trajectory": TRAJ, "x": 1}', "each line must be an object"),
        ('{"weight": 1}', "each line must be an object"),
        ("[1, 2]", "each line must be an object"),
        ('{"weight": 1, "trajectory": {"task": 3}}', "trajectory.task must be an object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, line, message):
    good = WeightedTrajectory(1.0, _t("a", True)).to_json()
    traj = json.dumps(_t("b", False).to_dict())
    path = tmp_path / "data.jsonl"
    path.write_text(f"{good}\n\n{line.replace('TRAJ', traj)}\n")
    with pytest.raises(InvalidArgument) as info:
        read_dataset(path)
    assert f"{path}:3: " in str(info.value)
    assert message in str(info.value)


def _steps(task_id: str, won: bool, n: int, tag: str) -> Trajectory:
    steps = tuple(Step(action=f"go to {i}", observation="ok") for i in range(n))
    return Trajectory(
        task=Task(env="alfworld", task_id=task_id),
        initial_observation="room",
        steps=steps,
        won=won,
        reward=float(won),
        trajectory_id=f"{task_id}-{tag}",
    )


def test_per_step_makes_each_trajectory_weigh_its_steps_the_same_and_keeps_the_zero_sum():
    own = _steps("c", False, 10, "own")
    short, longer = _steps("c", True, 2, "s"), _steps("c", True, 6, "l")
    items = per_step(compose_task(TaskOutcome(own, successes=(short, longer))))
    per = {i.trajectory.trajectory_id: i.weight * len(i.trajectory.steps) for i in items}
    mean = (10 + 2 + 6) / 3
    assert math.isclose(per["c-s"], mean / 3) and math.isclose(per["c-l"], mean / 3)
    assert math.isclose(per["c-own"], -2 * mean / 3)
    assert math.isclose(sum(per.values()), 0.0, abs_tol=1e-12)
    # Unscaled, the 10-step failure would put more weight on the shared step tokens.
    raw = compose_task(TaskOutcome(own, successes=(short, longer)))
    assert sum(i.weight * len(i.trajectory.steps) for i in raw) < -1


def test_per_step_leaves_a_lone_trajectory_and_an_empty_task_alone():
    own = _steps("d", True, 7, "own")
    assert per_step(compose_task(TaskOutcome(own))) == [WeightedTrajectory(1.0, own)]
    assert per_step([]) == []


def test_truncate_negatives_cuts_a_failure_to_its_longest_success():
    own = _steps("e", False, 10, "own")
    items = compose_task(
        TaskOutcome(own, successes=(_steps("e", True, 3, "a"), _steps("e", True, 4, "b")))
    )
    cut = {i.trajectory.trajectory_id: i for i in truncate_negatives(items)}
    assert len(cut["e-own"].trajectory.steps) == 4  # the longest success
    assert cut["e-own"].trajectory.steps == own.steps[:4] and cut["e-own"].weight < 0
    assert [len(cut[k].trajectory.steps) for k in ("e-a", "e-b")] == [3, 4]  # positives untouched
    # A shorter failure, a lone success and an empty task are left as they are.
    short = _steps("f", False, 2, "own")
    items = compose_task(TaskOutcome(short, successes=(_steps("f", True, 5, "a"),)))
    assert truncate_negatives(items) == items
    assert truncate_negatives([WeightedTrajectory(1.0, own)]) == [WeightedTrajectory(1.0, own)]
    assert truncate_negatives([]) == []


# --- every rule of an experiment, one task at a time (compose)

# The paper's composition: every rule of the corrections and ablations off.
PAPER = ComposeRules(
    base_negatives=True,
    real_valued_reward=False,
    sft_only=False,
    truncate_negatives=False,
    per_step_weights=False,
)


def _task(adapter: str = "t-round-0", won: bool = False) -> TaskOutcome:
    """A task whose 10-step attempt (real reward 0.25 when failed) has two explored successes,
    of 2 and 4 steps."""
    own = replace(_steps("g", won, 10, "own"), policy_adapter=adapter, reward=1.0 if won else 0.25)
    return TaskOutcome(own, successes=(_steps("g", True, 2, "s2"), _steps("g", True, 4, "s4")))


def _out(composed) -> list[tuple[str, float, int]]:
    """(trajectory id, weight, steps trained on) per item."""
    return [(i.trajectory.trajectory_id, i.weight, len(i.trajectory.steps)) for i in composed.items]


@pytest.mark.parametrize(
    ("rules", "adapter", "expected", "dropped", "truncated"),
    [
        # The paper: +1/(K'+1) per success, -K'/(K'+1) for the own failure.
        (PAPER, "t-round-0", [("g-s2", 1 / 3, 2), ("g-s4", 1 / 3, 4), ("g-own", -2 / 3, 10)], 0, 0),
        # Base negatives off: the base model's failure goes (both names it acts under) ...
        (replace(PAPER, base_negatives=False), "", [("g-s2", 1 / 3, 2), ("g-s4", 1 / 3, 4)], 1, 0),
        (
            replace(PAPER, base_negatives=False),
            "base",
            [("g-s2", 1 / 3, 2), ("g-s4", 1 / 3, 4)],
            1,
            0,
        ),
        # ... an adapter's failure stays.
        (
            replace(PAPER, base_negatives=False),
            "t-round-0",
            [("g-s2", 1 / 3, 2), ("g-s4", 1 / 3, 4), ("g-own", -2 / 3, 10)],
            0,
            0,
        ),
        # Real-valued reward: reward minus the task's mean reward (1 + 1 + 0.25) / 3 = 0.75.
        (
            replace(PAPER, real_valued_reward=True),
            "t-round-0",
            [("g-s2", 0.25, 2), ("g-s4", 0.25, 4), ("g-own", -0.5, 10)],
            0,
            0,
        ),
        # SFT only: the successes at weight 1, no negative term.
        (replace(PAPER, sft_only=True), "t-round-0", [("g-s2", 1.0, 2), ("g-s4", 1.0, 4)], 0, 0),
        # Truncated negatives: the failure is trained on over its longest success's 4 steps.
        (
            replace(PAPER, truncate_negatives=True),
            "t-round-0",
            [("g-s2", 1 / 3, 2), ("g-s4", 1 / 3, 4), ("g-own", -2 / 3, 4)],
            0,
            1,
        ),
        # Per-step weights: each weight x mean steps (16/3) / its steps.
        (
            replace(PAPER, per_step_weights=True),
            "t-round-0",
            [("g-s2", 8 / 9, 2), ("g-s4", 4 / 9, 4), ("g-own", -16 / 45, 10)],
            0,
            0,
        ),
    ],
)
def test_each_rule_alone(rules, adapter, expected, dropped, truncated):
    composed = compose(_task(adapter), rules)
    assert _out(composed) == [(t, pytest.approx(w, abs=1e-12), n) for t, w, n in expected]
    assert (composed.base_negatives_dropped, composed.negatives_truncated) == (dropped, truncated)


def test_rules_combine_in_order():
    # Truncation before the per-step scaling: the mean steps are (2 + 4 + 4) / 3, not 16/3, so
    # the weights still sum to zero per trained step.
    both = replace(PAPER, truncate_negatives=True, per_step_weights=True)
    assert _out(compose(_task(), both)) == [
        ("g-s2", pytest.approx(5 / 9), 2),
        ("g-s4", pytest.approx(5 / 18), 4),
        ("g-own", pytest.approx(-5 / 9), 4),
    ]
    # The real-valued baseline is taken over the whole group (0.25, 1, 1: mean 0.75) before the
    # base model's failure is dropped: each success keeps 1 - 0.75 (over the successes alone,
    # reward 1 each, every weight would be 0 and the ablation would learn nothing).
    real_base = replace(PAPER, base_negatives=False, real_valued_reward=True)
    composed = compose(_task(adapter=""), real_base)
    assert _out(composed) == [("g-s2", 0.25, 2), ("g-s4", 0.25, 4)]
    assert composed.base_negatives_dropped == 1
    # SFT after the real-valued reward: what stays positive is trained on at weight 1; with
    # nothing negative left, truncation cuts nothing and the per-step scaling is skipped.
    sft = replace(
        PAPER,
        real_valued_reward=True,
        sft_only=True,
        truncate_negatives=True,
        per_step_weights=True,
    )
    composed = compose(_task(), sft)
    assert _out(composed) == [("g-s2", 1.0, 2), ("g-s4", 1.0, 4)]
    assert composed.negatives_truncated == 0


@pytest.mark.parametrize("adapter", ["", "t-round-0"])
def test_a_solved_task_trains_its_attempt_at_weight_one_under_every_rule(adapter):
    every = ComposeRules(
        base_negatives=False,
        real_valued_reward=True,
        sft_only=False,
        truncate_negatives=True,
        per_step_weights=True,
    )
    for rules in (PAPER, every, replace(every, sft_only=True)):
        composed = compose(_task(adapter, won=True), rules)
        assert _out(composed) == [("g-own", 1.0, 10)]
        assert (composed.base_negatives_dropped, composed.negatives_truncated) == (0, 0)


def test_an_unsolved_task_trains_nothing():
    own = _steps("h", False, 5, "own")
    for rules in (PAPER, replace(PAPER, real_valued_reward=True, base_negatives=False)):
        assert compose(TaskOutcome(own), rules).items == []


# --- general chat data mixed into training


def _chat_file(tmp_path, n=3):
    path = tmp_path / "chat.jsonl"
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"q{i}"},
                    {"role": "assistant", "content": f"a{i}"},
                ]
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n\n")
    return path


def test_chat_examples_round_trip_through_the_dataset(tmp_path):
    chats = read_chat_file(_chat_file(tmp_path))
    assert [m.content for m in chats[1]] == ["q1", "a1"]
    items = [WeightedTrajectory(1.0, _t("a", True)), WeightedChat(1.0, chats[0])]
    path = write_dataset(tmp_path / "d.jsonl", items)
    assert read_dataset(path) == items


def test_mix_chats_draws_a_seeded_count_and_cycles_when_short(tmp_path):
    chats = read_chat_file(_chat_file(tmp_path, n=3))
    assert mix_chats(chats, n_items=8, ratio=0.25, seed=1) == mix_chats(chats, 8, 0.25, 1)
    assert len(mix_chats(chats, 8, 0.25, 1)) == 2
    assert mix_chats(chats, 8, 0.0, 1) == []
    many = mix_chats(chats, 7, 1.0, 1)  # 7 wanted from a file of 3: every chat at least twice
    assert len(many) == 7
    assert {m.messages[0].content for m in many[:3]} == {"q0", "q1", "q2"}
    assert all(m.weight == 1.0 for m in many)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no chat"),
        ("{not json\n", ":1: not valid JSON"),
        ('{"text": "hi"}\n', ':1: each line must be an object {"messages": [...]}'),
        ('{"messages": []}\n', ":1: messages must be a non-empty list"),
        ('{"messages": [{"role": "bot", "content": "x"}]}\n', "role must be one of"),
        ('{"messages": [{"role": "user", "content": 3}]}\n', "content of type int"),
        ('{"messages": [{"role": "user", "content": "x"}]}\n', "no assistant message"),
    ],
)
def test_bad_chat_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "chat.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidArgument) as info:
        read_chat_file(path)
    assert f"chat_data_uri {path}" in str(info.value)
    assert message in str(info.value)


def test_a_missing_chat_file_is_named(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot read it"):
        read_chat_file(tmp_path / "nope.jsonl")


def test_a_chat_line_in_a_dataset_is_checked_too(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"weight": 1, "chat": [{"role": "user", "content": "x"}]}\n')
    with pytest.raises(InvalidArgument, match=f"{path}:1: no assistant message"):
        read_dataset(path)
