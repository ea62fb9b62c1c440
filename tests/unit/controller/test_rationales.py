"""Rationales: the template ablation (config `rationale`), the per-round share of kept rationales
the env's check finds grounded, and a fork of explored data written by another rationale writer."""

from dataclasses import replace

import pytest

from a3t.errors import ConfigError
from a3t.trajectory import Step, StepSource, Task, TokenUsage, Trajectory
from a3t_controller.config import EXPLORE_FIELDS, ExperimentConfig
from a3t_controller.episode import (
    UNEXPLAINED,
    TemplateRationale,
    as_explored,
    explain_pending,
    pending_steps,
    rationale_writer,
)
from a3t_controller.report import markdown_report
from a3t_controller.rounds import RoundRunner
from a3t_controller.select import kept_by_all
from a3t_controller.store import Store
from tests.unit.controller.fakes import FakeActRe, FakeEnv, fake_services, tasks

TASK = Task("alfworld", "t1", "train", "pick_and_place_simple")


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


# --- the config field


def test_rationale_is_actre_or_template_and_a_bad_value_names_the_field():
    assert ExperimentConfig.from_dict({}).rationale == "actre"
    assert ExperimentConfig.from_dict({"rationale": "template"}).rationale == "template"
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict({"rationale": "templates"})
    assert "rationale must be one of ('actre', 'template'), got 'templates'" in str(err.value)
    with pytest.raises(ConfigError, match="rationale must be str, got 1"):
        ExperimentConfig.from_dict({"rationale": 1})


@pytest.mark.parametrize("other", [{"self_actre": True}, {"use_actre": False}])
def test_the_template_needs_actre_exploration_and_no_self_actre(other):
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict({"rationale": "template", **other})
    assert str(err.value).count("rationale 'template' replaces ActRe's rationales") == 1


def test_only_actre_rationales_need_the_actre_service():
    assert ExperimentConfig.from_dict({}).needs_actre() is True
    assert ExperimentConfig.from_dict({"rationale": "template"}).needs_actre() is False
    assert ExperimentConfig.from_dict({"use_actre": False}).needs_actre() is False


def test_a_fork_may_write_its_rationales_otherwise():
    assert "rationale" not in EXPLORE_FIELDS and "self_actre" not in EXPLORE_FIELDS
    source = ExperimentConfig.from_dict({"name": "a"})
    for other in ({"rationale": "template"}, {"self_actre": True}):
        assert ExperimentConfig.from_dict({"name": "b", **other}).explores_unlike(source) == []


# --- the template and the fork's reset


async def test_the_template_is_one_sentence_from_the_action_alone():
    template = TemplateRationale()
    answer = await template.explain("e", TASK, "You are in a room.", [], "take mug 1 from shelf 1")
    assert answer == ("The next action is take mug 1 from shelf 1.", TokenUsage())
    assert await template.end_episode("e") is None
    actre = FakeActRe()
    assert rationale_writer("actre", actre) is actre
    assert rationale_writer("actre", None) is None
    assert isinstance(rationale_writer("template", None), TemplateRationale)
    traj = Trajectory(
        TASK,
        "You are in a room.",
        (Step("go to shelf 1", source=StepSource.SAMPLED), Step("look", thought="hmm")),
        metadata={UNEXPLAINED: "0"},
    )
    explained = await explain_pending("e", traj, rationale_writer("template", None))
    assert [s.thought for s in explained.steps] == ["The next action is go to shelf 1.", "hmm"]
    assert pending_steps(explained) == []


def test_as_explored_clears_the_synthesised_steps_rationales_and_leaves_them_pending():
    usage = TokenUsage(20, 0, 8)
    traj = Trajectory(
        TASK,
        "You are in a room.",
        (
            Step("go to shelf 1", thought="A", source=StepSource.SAMPLED, usage=usage),
            Step("look", thought="B", usage=usage),
            Step("open box 1", thought="C", source=StepSource.FORCED, usage=usage),
        ),
        metadata={"k": "v"},
    )
    again = as_explored(traj)
    assert [(s.thought, s.usage) for s in again.steps] == [
        ("", TokenUsage()),
        ("B", usage),
        ("", TokenUsage()),
    ]
    assert again.metadata == {"k": "v", UNEXPLAINED: "0,2"}
    assert pending_steps(again) == [0, 2]
    unsampled = Trajectory(TASK, "x", (Step("look", thought="B"),))
    assert as_explored(unsampled) is unsampled


# --- the round


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


async def test_template_rationales_ask_no_actre_and_all_name_their_action(tmp_path):
    store, runner, exp, _ = make(tmp_path, actre=None, rationale="template")  # none started
    await runner.run(exp.experiment_id)
    eid = exp.experiment_id
    steps = kept_steps(store, eid)
    assert steps and all(t == f"The next action is {a}." for a, t in steps)
    stats = store.round(eid, 0).stats
    assert stats.rationales_checked == stats.rationales_grounded == len(steps)


async def test_a_template_fork_of_actre_explored_data_writes_its_own_rationales(tmp_path):
    store, runner, source, services = make(tmp_path, name="src")
    await runner.run(source.experiment_id)
    actre_steps = kept_steps(store, source.experiment_id)
    assert actre_steps and all(t.endswith("may help with the task") for _, t in actre_steps)
    config = ExperimentConfig.from_dict({**source.config, "name": "f", "rationale": "template"})
    assert config.explores_unlike(ExperimentConfig.from_dict(source.config)) == []
    fork = store.create_experiment("f", "req-f", config.to_dict())
    store.fork_explored(source.experiment_id, fork.experiment_id)
    calls = services.actre.calls
    await runner.run(fork.experiment_id)
    fork_steps = kept_steps(store, fork.experiment_id)
    # The same explored data, the same selection; the fork's own rationales, no ActRe call.
    assert [a for a, _ in fork_steps] == [a for a, _ in actre_steps]
    assert all(t == f"The next action is {a}." for a, t in fork_steps)
    assert services.actre.calls == calls
