"""One episode over fakes: sampled steps, and ActRe asked only when its rationale is used."""

from a3t.envs.base import explorable
from a3t.trajectory import StepSource, TokenUsage
from a3t_controller.episode import EpisodeSpec, explain_pending, pending_steps, run_episode
from a3t_controller.ports import PolicyAnswer
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
    base = dict(episode_id="e1", env="alfworld", split="train", task_id=TASK.task_id, max_steps=8)
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


async def test_sampled_steps_stay_pending_and_explain_pending_fills_them_exactly():
    seed = await find_seed(True)
    actre = FakeActRe()
    traj = await run_episode(
        spec(explore_probability=1.0, seed=seed), FakeEnv({"train": [TASK]}), FakePolicy(), actre
    )
    assert traj.won and traj.steps[-1].action == "open box 3"
    assert all(s.source == StepSource.SAMPLED and s.thought == "" for s in traj.steps)
    assert actre.calls == 0 and actre.ended == []  # p = 1: nothing read a rationale yet
    n = len(traj.steps)
    assert pending_steps(traj) == list(range(n))
    assert traj.metadata["unexplained_steps"] == ",".join(map(str, range(n)))

    explained = await explain_pending("t-1", traj, actre)
    assert all(s.thought == f"{s.action} may help with the task" for s in explained.steps)
    actions = [s.action for s in traj.steps]
    # Each rationale was asked with the history before its step, as at the time of the action.
    assert actre.seen == [("t-1", actions[:i], a) for i, a in enumerate(actions)]
    assert actre.ended == ["t-1"]
    assert pending_steps(explained) == [] and "unexplained_steps" not in explained.metadata
    assert [s.observation for s in explained.steps] == [s.observation for s in traj.steps]
    assert await explain_pending("t-1", explained, actre) == explained  # nothing left to ask
    assert actre.calls == n


async def test_lost_episode_is_stored_unexplained():
    seed = await find_seed(False)
    actre = FakeActRe()
    traj = await run_episode(
        spec(explore_probability=1.0, seed=seed), FakeEnv({"train": [TASK]}), FakePolicy(), actre
    )
    assert not traj.won and len(traj.steps) == 8
    assert actre.calls == 0
    assert pending_steps(traj) == list(range(8))


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
    # Sampled steps after the policy's last step are left for selection to explain.
    last_policy = max(i for i, src in enumerate(sources) if src == StepSource.POLICY)
    tail = [i for i in range(last_policy + 1, len(sources))]
    assert pending_steps(traj) == tail
    assert actre.ended == ["e1"]
    for seen in policy.thoughts_seen:  # at each policy call every earlier sampled step is explained
        for step, thought in zip(traj.steps, seen, strict=False):
            expected = f"{step.action} may help with the task" if step.source.synthesised else ""
            assert thought == expected


def test_explorable_drops_skipped_verbs_unless_nothing_else_is_left():
    admissible = ("look", "open box 3", "examine box 3", "go to desk 1", "inventory")
    skip = ("look", "inventory", "examine", "help")
    assert explorable(admissible, skip) == ["go to desk 1", "open box 3"]
    assert explorable(admissible, ()) == sorted(admissible)
    assert explorable(("look", "help"), skip) == ["help", "look"]


async def test_exploration_never_samples_a_skipped_verb():
    traj = await run_episode(
        spec(explore_probability=1.0, explore_skip_verbs=("look",)),
        FakeEnv({"train": [TASK]}),
        FakePolicy(),
        FakeActRe(),
    )
    assert traj.steps and all(s.action != "look" for s in traj.steps)


def test_explorable_keeps_only_the_prefixed_actions_when_any_match():
    """WebShop explores by clicking, never by a random search text (DESIGN.md, step 2)."""
    admissible = ("search[...]", "click[next >]", "click[b0001]")
    assert explorable(admissible, (), ("click[",)) == ["click[b0001]", "click[next >]"]
    assert explorable(("search[...]",), (), ("click[",)) == []


class ObservationRecordingPolicy(FakePolicy):
    """Says "look", then the key, and records the observations it was shown."""

    def __init__(self):
        super().__init__()
        self.shown = []

    async def act(self, episode_id, task, initial_observation, history, admissible, **kwargs):
        self.shown.append([initial_observation, *(s.observation for s in history)])
        action = "open box 3" if history else "look"
        return PolicyAnswer("", action, action, TokenUsage())


async def test_show_admissible_lists_the_explorable_actions_after_every_observation():
    listing = "Valid actions: go to desk 1, go to shelf 1, open box 3."
    policy = ObservationRecordingPolicy()
    traj = await run_episode(
        spec(show_admissible=True, explore_skip_verbs=("look",)),
        FakeEnv({"train": [TASK]}),
        policy,
        FakeActRe(),
    )
    assert traj.won and [s.action for s in traj.steps] == ["look", "open box 3"]
    # What the policy read is what is stored (and so what the trainer renders).
    assert policy.shown[-1] == [traj.initial_observation, traj.steps[0].observation]
    assert traj.initial_observation.endswith(f"\n{listing}")
    assert traj.steps[0].observation == f"Nothing happens.\n{listing}"
    assert traj.steps[1].observation == "You open the box. You won!"  # over: nothing to list
    # Off (the default): the env's text unchanged.
    plain = await run_episode(
        spec(explore_skip_verbs=("look",)),
        FakeEnv({"train": [TASK]}),
        ObservationRecordingPolicy(),
        FakeActRe(),
    )
    assert "Valid actions" not in plain.initial_observation + plain.steps[0].observation
    assert plain.initial_observation == traj.initial_observation.removesuffix(f"\n{listing}")
