"""Rationales: the per-round share of kept rationales the env's check finds grounded."""

from dataclasses import replace

from a3t.trajectory import TokenUsage
from a3t_controller.config import ExperimentConfig
from a3t_controller.report import markdown_report
from a3t_controller.rounds import RoundRunner
from a3t_controller.select import kept_by_all
from a3t_controller.store import Store
from tests.unit.controller.fakes import FakeActRe, FakeEnv, fake_services, tasks


def make(tmp_path, name="t", actre=FakeActRe, **overrides):
    """A 1-round experiment over the fakes, its ActRe built by `actre` (None: no ActRe)."""
    env = FakeEnv({"train": tasks("train", 6), "eval": tasks("eval", 4, start=10)})
    services = replace(fake_services(env, critic=False), actre=actre() if actre else None)
    store = Store(tmp_path / "a3t.sqlite")
    fields = dict(
        name=name,
        train_split="train",
        eval_split="eval",
        rounds=1,
        max_steps=6,
        explore_attempts=6,
        explore_probability=(1.0,),
        max_positives_per_task=2,
        concurrency=3,
    )
    config = ExperimentConfig.from_dict({**fields, **overrides})
    exp = store.create_experiment(config.name, f"req-{name}", config.to_dict())
    runner = RoundRunner(store, services, tmp_path / "artifacts")
    return store, runner, exp, services


def kept_steps(store, experiment_id):
    """(action, thought) of every synthesised step of round 0's kept trajectories."""
    kept = set(kept_by_all((d.trajectory_id, d.kept) for d in store.selections(experiment_id, 0)))
    return [
        (s.action, s.thought)
        for t in store.trajectories(experiment_id, 0, "explore")
        if t.trajectory_id in kept
        for s in t.trajectory.steps
        if s.source.synthesised
    ]


class BoxHoldingActRe(FakeActRe):
    """Claims to hold the box before opening it, with no take before: ALFWorld's check refuses
    that rationale; the others name their action's object."""

    async def explain(self, episode_id, task, initial_observation, history, action):
        await super().explain(episode_id, task, initial_observation, history, action)
        if action.startswith("open box"):
            return "I hold the box, so I open it.", TokenUsage()
        return f"{action} may help with the task", TokenUsage()


async def test_the_round_records_how_many_kept_rationales_are_grounded(tmp_path):
    store, runner, exp, _ = make(tmp_path, actre=BoxHoldingActRe)
    await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    stats = store.round(eid, 0).stats
    steps = kept_steps(store, eid)
    wrong = [a for a, t in steps if t == "I hold the box, so I open it."]
    # Every kept trajectory won, by its last (sampled) step opening the box: one wrong each.
    assert len(wrong) == stats.selected == 12
    assert stats.rationales_checked == len(steps)
    assert stats.rationales_grounded == len(steps) - 12
    # From the stored trajectories: a selection resumed after explaining counts the same.
    config = ExperimentConfig.from_dict(store.experiment(eid).config)
    again = runner._check_rationales(eid, config, 0, store.selections(eid, 0))
    assert again == (stats.rationales_checked, stats.rationales_grounded)
    lines = markdown_report(store, eid).splitlines()
    assert "| selected | rationales grounded | pool |" in lines[2]
    share = round(100 * (len(steps) - 12) / len(steps))
    assert f"| 12 | {share}% ({len(steps) - 12}/{len(steps)}) |" in lines[5]
    assert "| - | - |" in lines[4]  # the base model's row: nothing selected
