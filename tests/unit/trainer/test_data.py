"""Chat-formatted examples, loss masks, truncation and packing on the tiny model's tokenizer."""

from dataclasses import replace

import pytest
import torch

from a3t.compose import WeightedChat, WeightedTrajectory
from a3t.errors import InvalidArgument
from a3t.inference.base import ChatMessage
from a3t.inference.chat import format_step
from a3t.prompts import policy_system, trajectory_policy_messages
from a3t.trajectory import Step
from a3t_trainer.data import (
    _without_early_steps,
    build_example,
    build_examples,
    pack_examples,
    plan_epoch,
    tokenize,
)
from a3t_trainer.toy import synthetic_items, toy_items
from a3t_trainer.train import pack_logprobs

EOT = "<|im_end|>"


def masked_runs(tokenizer, example):
    """The decoded text of each maximal run of masked tokens."""
    runs, current = [], []
    for token, on in zip(example.input_ids, example.loss_mask, strict=True):
        if on:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tokenizer.decode(run) for run in runs]


def test_mask_covers_exactly_the_agent_tokens(tiny_tokenizer):
    item = toy_items()[0]
    example = build_example(tiny_tokenizer, item, system_prompt="You are an agent.")
    steps = item.trajectory.steps
    assert masked_runs(tiny_tokenizer, example) == [format_step(s) + EOT for s in steps]
    # Everything else (system, task, observations, role headers) is in the unmasked part.
    pairs = zip(example.input_ids, example.loss_mask, strict=True)
    rest = tiny_tokenizer.decode([t for t, m in pairs if not m])
    assert "You are an agent." in rest and item.trajectory.initial_observation in rest
    assert all(s.observation in rest for s in steps[:-1])
    # Nothing follows the last agent token: the final observation cannot change any loss term.
    assert steps[-1].observation not in rest and example.loss_mask[-1]
    assert example.weight == 1.0 and example.dropped_steps == 0


def test_a_chat_example_trains_on_its_assistant_turns_in_its_own_group(tiny_tokenizer):
    chat = WeightedChat(
        1.0,
        (
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Capital of France?"),
            ChatMessage("assistant", "Paris."),
            ChatMessage("user", "And of Italy?"),
            ChatMessage("assistant", "Rome."),
        ),
    )
    examples = build_examples(tiny_tokenizer, [toy_items()[0], chat])
    assert len(examples) == 2
    assert masked_runs(tiny_tokenizer, examples[1]) == ["Paris." + EOT, "Rome." + EOT]
    assert examples[1].group == "chat/1" and examples[1].weight == 1.0
    # Longer than max_tokens: its first max_tokens tokens, a causal prefix.
    full = examples[1].input_ids
    cut = build_examples(tiny_tokenizer, [chat], max_tokens=len(full) - 3)[0]
    assert cut.input_ids == full[: len(full) - 3]
    assert cut.loss_mask == examples[1].loss_mask[: len(full) - 3]


def test_include_observations_adds_the_observation_turns(tiny_tokenizer):
    item = toy_items()[0]
    example = build_example(tiny_tokenizer, item, include_observations=True)
    trajectory = item.trajectory
    expected = [f"{trajectory.initial_observation}\n{trajectory.task.instruction}"]
    for step in trajectory.steps:
        expected += [format_step(step) + EOT, step.observation]
    assert masked_runs(tiny_tokenizer, example) == expected


def _long_item(n_steps: int) -> WeightedTrajectory:
    item = toy_items()[0]
    steps = tuple(
        Step(f"go to cabinet {i}", f"On the cabinet {i}, you see a mug {i}.", f"step {i}")
        for i in range(n_steps)
    )
    return replace(item, trajectory=replace(item.trajectory, steps=steps))


def test_truncation_drops_the_fewest_early_steps_and_keeps_the_task(tiny_tokenizer):
    item = _long_item(30)
    full = build_example(tiny_tokenizer, item, max_tokens=100_000)
    limit = len(full.input_ids) // 3
    example = build_example(tiny_tokenizer, item, max_tokens=limit)
    k = example.dropped_steps
    assert 0 < k < 30 and len(example.input_ids) <= limit
    kept = item.trajectory.steps[k:]
    assert masked_runs(tiny_tokenizer, example) == [format_step(s) + EOT for s in kept]
    text = tiny_tokenizer.decode(example.input_ids)
    assert item.trajectory.task.instruction in text  # the task turn survives
    # The dropped steps' last observation is kept: it is what step k+1 acted on.
    assert item.trajectory.steps[k - 1].observation in text
    assert item.trajectory.steps[k - 2].observation not in text
    # Minimal: dropping one step fewer would not fit.
    messages = trajectory_policy_messages(item.trajectory, with_exemplar=False)
    assert len(tokenize(tiny_tokenizer, _without_early_steps(messages, 2, k - 1))[0]) > limit


def test_truncation_never_cuts_the_last_step(tiny_tokenizer):
    item = toy_items()[0]
    one_step = replace(item.trajectory, steps=item.trajectory.steps[-1:])
    one = replace(item, trajectory=replace(one_step, initial_observation="room " * 200))
    full = build_example(tiny_tokenizer, one, max_tokens=100_000)
    agent = sum(full.loss_mask)
    # The head is cut from the left; the whole last turn stays.
    example = build_example(tiny_tokenizer, one, max_tokens=agent + 10)
    assert len(example.input_ids) == agent + 10
    assert masked_runs(tiny_tokenizer, example) == [format_step(one_step.steps[0]) + EOT]
    with pytest.raises(InvalidArgument, match="raise max_seq_tokens"):
        build_example(tiny_tokenizer, one, max_tokens=agent - 1)


def test_examples_without_gradient_are_left_out(tiny_tokenizer):
    mug, success, _, failure = toy_items()
    no_steps = replace(success, trajectory=replace(success.trajectory, steps=()))
    examples = build_examples(
        tiny_tokenizer, [mug, replace(failure, weight=0.0), no_steps, failure]
    )
    assert [e.weight for e in examples] == [1.0, -2 / 3]


def test_packing_fits_every_example_once_and_restarts_positions(tiny_tokenizer):
    examples = build_examples(tiny_tokenizer, synthetic_items(12, seed=1), max_tokens=800)
    packs = pack_examples(examples, 800)
    assert sorted(i for p in packs for i in p.examples) == list(range(len(examples)))
    assert len(packs) < len(examples)  # something was packed together
    for pack in packs:
        members = [examples[i] for i in pack.examples]
        assert pack.tokens == sum(len(e.input_ids) for e in members) <= 800
        starts = (pack.position_ids == 0).nonzero().flatten().tolist()
        assert len(starts) == len(members)
        # Every target is the token after its position, weighted by its example.
        assert torch.equal(pack.input_ids[pack.target_positions + 1], pack.targets)
        assert pack.targets.numel() == sum(e.loss_tokens for e in members)
        assert set(pack.target_weights.tolist()) <= {e.weight for e in members}


def test_packed_examples_do_not_attend_to_each_other(tiny_model, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    examples = build_examples(tiny_tokenizer, toy_items(), max_tokens=2048)
    (pack,) = pack_examples(examples, 2048)
    assert len(pack.examples) == 4
    with torch.no_grad():
        packed = pack_logprobs(model, pack, "cpu")
        alone = torch.cat(
            [
                pack_logprobs(model, pack_examples([examples[i]], 2048)[0], "cpu")
                for i in pack.examples
            ]
        )
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-5)


def _grouped(tiny_tokenizer):
    """Six tasks: three with a positive and a negative, three with one trajectory."""
    items = synthetic_items(9, seed=4, max_steps=6)
    paired = []
    for i, item in enumerate(items):
        task = replace(item.trajectory.task, task_id=f"task{i // 2 if i < 6 else i}")
        paired.append(replace(item, trajectory=replace(item.trajectory, task=task)))
    return build_examples(tiny_tokenizer, paired, max_tokens=2048)


@pytest.mark.parametrize("pack", [False, True])
def test_plan_epoch_keeps_tasks_in_one_step_and_replays_by_seed(tiny_tokenizer, pack):
    examples = _grouped(tiny_tokenizer)
    budget = 3 * max(len(e.input_ids) for e in examples)
    plan = plan_epoch(examples, seed=1, epoch=0, tokens_per_step=budget, max_tokens=2048, pack=pack)
    flat = [i for step in plan for row in step for i in row]
    assert sorted(flat) == list(range(len(examples)))
    step_of = {i: n for n, step in enumerate(plan) for row in step for i in row}
    for group in {e.group for e in examples}:
        members = [i for i, e in enumerate(examples) if e.group == group]
        assert len({step_of[i] for i in members}) == 1, group
    for step in plan:
        sizes = [sum(len(examples[i].input_ids) for i in row) for row in step]
        assert all(size <= 2048 for size in sizes)
        if not pack:
            assert all(len(row) == 1 for row in step)
    assert pack == any(len(row) > 1 for step in plan for row in step)
    again = plan_epoch(
        examples, seed=1, epoch=0, tokens_per_step=budget, max_tokens=2048, pack=pack
    )
    other = plan_epoch(
        examples, seed=1, epoch=1, tokens_per_step=budget, max_tokens=2048, pack=pack
    )
    assert again == plan and other != plan


def test_default_rendering_is_the_policys_adapter_chat(tiny_tokenizer):
    from a3t.prompts import exemplar

    item = toy_items()[0]
    task = replace(item.trajectory.task, task_type="pick_and_place_simple")
    item = replace(item, trajectory=replace(item.trajectory, task=task))
    example = build_example(tiny_tokenizer, item)
    text = tiny_tokenizer.decode(example.input_ids)
    assert text.startswith(f"<|im_start|>system\n{policy_system('alfworld')}<|im_end|>")
    shot = exemplar("alfworld", "pick_and_place_simple")
    assert shot and shot[0].content not in text  # adapters act without the 1-shot exemplar
    ids, _ = tokenize(
        tiny_tokenizer, trajectory_policy_messages(item.trajectory, with_exemplar=False)
    )
    assert list(example.input_ids) == ids
