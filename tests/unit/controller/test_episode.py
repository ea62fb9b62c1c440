"""One episode over fakes: sampled steps, and ActRe asked only when its rationale is used."""

from a3t.trajectory import StepSource, TokenUsage
from a3t_controller.episode import EpisodeSpec, PolicyAnswer, run_episode
from tests.unit.controller.fakes import FakeActRe, FakeEnv, FakePolicy, tasks

TASK = tasks("train", 1, start=3)[0]  # won by "open box 3"


class RecordingPolicy(FakePolicy):
    """Says "look" and records the thoughts of the history it was shown."""

    def __init__(self):
        super().__init__()
        self.thoughts_seen = []

    async def act(self, episode_id, task, initial_observation, history, admissible, **kwargs):
        self.thoughts_seen.append([s.thought for s in history])
        return PolicyAnswer("", "look", "look", TokenUsage())


def spec(**fields) -> EpisodeSpec:
    base = dict(episode_id="e1", split="train", task_id=TASK.task_id, max_steps=8)
    return EpisodeSpec(**{**base, **fields})


async def find_seed(won: bool) -> int:
    """A seed whose p=1 random walk over the fake's 4 actions ends won (or lost) in 8 steps."""
    for seed in range(100):
        traj = await run_episode(
            spec(explore_probability=1.0, seed=seed),
            FakeEnv({"train": [TASK]}),
            FakePolicy(),
            FakeActRe(),
        )
        if traj.won == won:
            return seed
    raise AssertionError("no such seed")


async def test_won_episode_gets_every_rationale_with_the_history_before_its_step():
    seed = await find_seed(True)
    actre = FakeActRe()
    traj = await run_episode(
        spec(explore_probability=1.0, seed=seed), FakeEnv({"train": [TASK]}), FakePolicy(), actre
    )
    assert traj.won and traj.steps[-1].action == "open box 3"
    assert all(s.source == StepSource.SAMPLED for s in traj.steps)
    assert all(s.thought == f"{s.action} may help with the task" for s in traj.steps)
    actions = [s.action for s in traj.steps]
    assert actre.seen == [("e1", actions[:i], a) for i, a in enumerate(actions)]
    assert actre.ended == ["e1"]
    assert "unexplained_steps" not in traj.metadata


async def test_lost_episode_asks_actre_nothing_unless_told():
    seed = await find_seed(False)
    actre = FakeActRe()
    traj = await run_episode(
        spec(explore_probability=1.0, seed=seed), FakeEnv({"train": [TASK]}), FakePolicy(), actre
    )
    assert not traj.won and len(traj.steps) == 8
    assert actre.calls == 0 and actre.ended == []
    assert all(s.thought == "" and s.source.synthesised for s in traj.steps)
    assert traj.metadata["unexplained_steps"] == "8"

    told = FakeActRe()
    traj2 = await run_episode(
        spec(explore_probability=1.0, seed=seed, explain_lost=True),
        FakeEnv({"train": [TASK]}),
        FakePolicy(),
        told,
    )
    assert [s.action for s in traj2.steps] == [s.action for s in traj.steps]  # same draws
    assert told.calls == 8 and all(s.thought for s in traj2.steps)
    assert "unexplained_steps" not in traj2.metadata


async def test_policy_sees_every_earlier_rationale():
    policy, actre = RecordingPolicy(), FakeActRe()
    traj = await run_episode(
        spec(explore_probability=0.5, seed=7, max_steps=12),
        FakeEnv({"train": [TASK]}),
        policy,
        actre,
    )
    sources = [s.source for s in traj.steps]
    assert StepSource.POLICY in sources and StepSource.SAMPLED in sources
    assert len(policy.thoughts_seen) == sources.count(StepSource.POLICY)
    assert any(any(seen) for seen in policy.thoughts_seen)  # some call came after a sampled step
    for seen in policy.thoughts_seen:  # at each policy call every earlier sampled step is explained
        for step, thought in zip(traj.steps, seen, strict=False):
            expected = f"{step.action} may help with the task" if step.source.synthesised else ""
            assert thought == expected
