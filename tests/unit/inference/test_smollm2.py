"""Slow tier: the packaged SmolLM2-135M-Instruct loads through the local engine and answers."""

from __future__ import annotations

import pytest

from a3t.inference.base import ChatMessage, GenerationParams
from a3t.inference.chat import parse_step
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.inference.models import SMOLLM2

pytestmark = pytest.mark.slow


async def test_smollm2_loads_and_answers() -> None:
    engine = LocalEngine(LocalEngineConfig(model=SMOLLM2))
    try:
        info = engine.info()
        assert (info.base_model, info.max_context_tokens) == (SMOLLM2, 8192)
        assert engine.tokenizer.eos_token == engine.tokenizer.pad_token == "<|im_end|>"
        answer = await engine.generate(
            [ChatMessage("user", "What is the capital of France? Answer in one word.")],
            GenerationParams(max_new_tokens=16),
        )
        assert "Paris" in answer.text
        assert answer.finish_reason == "stop"  # ended its turn with <|im_end|>, not the limit
        messages = [
            ChatMessage("system", "You are an agent in a household. Answer with one action."),
            ChatMessage(
                "user",
                "You are in the middle of a room. Looking quickly around you, you see a "
                "cabinet 1, a fridge 1 and a countertop 1.\nYour task is to: put a mug in fridge.",
            ),
        ]
        step = await engine.generate(messages, GenerationParams(max_new_tokens=24), "ep")
        assert parse_step(step.text)[1]  # some action line
        scores = await engine.score_continuations(
            messages, "", ["go to cabinet 1", "zebra quantum purple"]
        )
        assert scores[0] > scores[1]
    finally:
        await engine.close()
