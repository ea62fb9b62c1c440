import json

import pytest

from a3t.convert import trajectory_from_pb, trajectory_to_pb
from a3t.errors import InvalidArgument
from a3t.trajectory import Step, StepSource, Task, TokenUsage, Trajectory


def _trajectory() -> Trajectory:
    return Trajectory(
        task=Task(
            env="alfworld",
            task_id="pick_and_place_simple-Mug-None-Desk-308/trial_1",
            split="train",
            task_type="pick_and_place_simple",
            instruction="put a mug in desk.",
            metadata={"level": "1"},
        ),
        initial_observation="You are in the middle of a room.",
        steps=(
            Step(
                action="go to desk 1",
                observation="On the desk 1, you see a mug 1.",
                thought="The mug is likely on the desk.",
                usage=TokenUsage(100, 80, 12),
                raw_text="think: The mug is likely on the desk.\ngo to desk 1",
            ),
            Step(
                action="take mug 1 from desk 1",
                observation="You pick up the mug 1.",
                thought="I need the mug.",
                source=StepSource.SAMPLED,
                replaced_action="look",
                admissible=True,
            ),
            Step(
                action="jump",
                observation="Nothing happens.",
                source=StepSource.FORCED,
                admissible=False,
                reward=0.5,
                done=True,
            ),
        ),
        won=True,
        reward=1.0,
        trajectory_id="7e0b5a5e-0000-4000-8000-000000000001",
        policy_adapter="exp-round-1",
        round=2,
        metadata={"phase": "explore"},
    )


def test_json_round_trip_is_lossless():
    traj = _trajectory()
    assert Trajectory.from_json(traj.to_json()) == traj
    # The JSON is plain data (what the datasets export writes).
    assert json.loads(traj.to_json())["steps"][1]["source"] == "sampled"


def test_protobuf_round_trip_is_lossless():
    traj = _trajectory()
    assert trajectory_from_pb(trajectory_to_pb(traj)) == traj


def test_synthesised_steps_are_counted():
    assert _trajectory().synthesised_steps == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        (
            '{"task": {"env": "a", "task_id": "b"}, "initial_observation": "x", "bogus": 1}',
            "unknown keys ['bogus']",
        ),
        (
            '{"task": {"env": "a", "task_id": "b"}, "initial_observation": "x", '
            '"steps": [{"action": "a", "source": "alien"}]}',
            "does not parse",
        ),
        ('{"initial_observation": "x"}', "does not parse"),
    ],
)
def test_bad_json_names_the_problem(text, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        Trajectory.from_json(text)
