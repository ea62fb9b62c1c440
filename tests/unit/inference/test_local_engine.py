"""LocalEngine on the tiny random model: cache reuse and batching are exact, adapters hot-swap,
stop sequences, seeded sampling, scoring, cache eviction and errors."""

from __future__ import annotations

import asyncio
import itertools
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from a3t.errors import FailedPrecondition, InvalidArgument, NotFound
from a3t.inference.base import ChatMessage, GenerationParams
from a3t.inference.chat import encode_text, render_text
from a3t.inference.local import LocalEngine, LocalEngineConfig

GREEDY = GenerationParams(max_new_tokens=8)
OBSERVATIONS = [
    "You arrive at cabinet 1. On the cabinet 1, you see a mug 1.",
    "You pick up the mug 1 from the cabinet 1.",
    "Nothing happens.",
    "You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing.",
]


def _start(n: int = 0) -> list[ChatMessage]:
    return [
        ChatMessage("system", "Interact with a household to solve a task."),
        ChatMessage("user", f"You are in the middle of a room. Your task is to: find mug {n}."),
    ]


@pytest.fixture
async def engine(tiny_model: str) -> AsyncIterator[LocalEngine]:
    # No prefix pool: the tests below count exactly what the episode caches reuse.
    eng = LocalEngine(LocalEngineConfig(model=tiny_model, prefix_pool_size=0))
    yield eng
    await eng.close()


async def _episode(eng: LocalEngine, episode_id: str | None, n: int = 0, **kw) -> list:
    """Plays 4 steps, feeding the model's own text back as the assistant turn."""
    messages = _start(n)
    results = []
    for observation in OBSERVATIONS:
        out = await eng.generate(messages, GREEDY, episode_id=episode_id, **kw)
        results.append(out)
        messages += [ChatMessage("assistant", out.text), ChatMessage("user", observation)]
    return results


async def test_kv_reuse_gives_the_same_greedy_outputs_as_reencoding(engine: LocalEngine) -> None:
    cached = await _episode(engine, "ep-1")
    fresh = await _episode(engine, None)
    assert [g.text for g in cached] == [g.text for g in fresh]
    assert [g.finish_reason for g in cached] == [g.finish_reason for g in fresh]
    assert all(len(g.text) > 0 for g in cached)
    # After the first step only the new turn is encoded; without an id nothing is reused.
    assert cached[0].usage.cached_prompt_tokens == 0
    for previous, g in itertools.pairwise(cached):
        # At least the whole previous prompt came from the cache (plus the generated tokens
        # that re-tokenise the same way); only the rest was encoded.
        assert previous.usage.prompt_tokens <= g.usage.cached_prompt_tokens < g.usage.prompt_tokens
    assert all(g.usage.cached_prompt_tokens == 0 for g in fresh)
    assert [g.usage.prompt_tokens for g in cached] == [g.usage.prompt_tokens for g in fresh]


async def test_cache_follows_a_rewritten_history(engine: LocalEngine) -> None:
    """A prompt that diverges from the cached tokens mid-way reuses only the common prefix."""
    first = await engine.generate(_start(), GREEDY, episode_id="ep")
    long = [*_start(), ChatMessage("assistant", first.text), ChatMessage("user", OBSERVATIONS[0])]
    await engine.generate(long, GREEDY, episode_id="ep")
    edited = [*long[:-1], ChatMessage("user", "Something else entirely happens.")]
    reused = await engine.generate(edited, GREEDY, episode_id="ep")
    fresh = await engine.generate(edited, GREEDY)
    assert reused.text == fresh.text
    assert (
        0
        < reused.usage.cached_prompt_tokens
        < len(
            encode_text(
                engine.tokenizer, render_text(engine.tokenizer, edited, add_generation_prompt=True)
            )
        )
    )


async def test_concurrent_requests_batch_and_match_one_at_a_time(engine: LocalEngine) -> None:
    prompts = [_start(n) for n in range(5)]
    params = [GenerationParams(max_new_tokens=4 + 2 * n) for n in range(5)]
    alone = [await engine.generate(p, q) for p, q in zip(prompts, params, strict=True)]
    assert engine.stats["peak_batch"] == 1
    together = await asyncio.gather(
        *(engine.generate(p, q) for p, q in zip(prompts, params, strict=True))
    )
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.usage for g in together] == [g.usage for g in alone]
    assert engine.stats["peak_batch"] >= 3  # they really decoded in one batch


async def test_concurrent_episodes_with_caches_match_sequential(engine: LocalEngine) -> None:
    together = await asyncio.gather(*(_episode(engine, f"c{n}", n) for n in range(3)))
    alone = [await _episode(engine, None, n) for n in range(3)]
    assert [[g.text for g in ep] for ep in together] == [[g.text for g in ep] for ep in alone]


async def test_adapter_changes_outputs_and_unloading_restores_them(
    engine: LocalEngine, adapter_dirs: dict[str, str]
) -> None:
    base = (await engine.generate(_start(), GREEDY)).text
    info = await engine.load_adapter("a1", adapter_dirs["a1"])
    assert [a.name for a in info.adapters] == ["a1"] and info.active_adapter == ""
    assert info.adapters[0].version == 1
    assert (await engine.generate(_start(), GREEDY)).text == base  # loaded, not active
    with_a1 = (await engine.generate(_start(), GREEDY, adapter="a1")).text
    assert with_a1 != base
    await engine.load_adapter("a2", adapter_dirs["a2"], activate=True)
    with_a2 = (await engine.generate(_start(), GREEDY)).text
    assert with_a2 not in (base, with_a1)
    assert (await engine.generate(_start(), GREEDY, adapter="base")).text == base
    # Mixed adapters in one batch: split into sub-batches, each still right.
    mixed = await asyncio.gather(
        engine.generate(_start(), GREEDY, adapter="a1"),
        engine.generate(_start(), GREEDY, adapter="base"),
        engine.generate(_start(), GREEDY, adapter="a2"),
    )
    assert [g.text for g in mixed] == [with_a1, base, with_a2]
    info = await engine.unload_adapter("a2")
    assert info.active_adapter == "" and [a.name for a in info.adapters] == ["a1"]
    await engine.unload_adapter("a1")
    assert (await engine.generate(_start(), GREEDY)).text == base
    assert engine.info().adapters == ()


async def test_episode_cache_is_not_reused_across_adapters(
    engine: LocalEngine, adapter_dirs: dict[str, str]
) -> None:
    await engine.load_adapter("a1", adapter_dirs["a1"])
    base_steps = await _episode(engine, "ep")
    switched = await engine.generate(_start(), GREEDY, episode_id="ep", adapter="a1")
    assert switched.usage.cached_prompt_tokens == 0
    assert switched.text == (await engine.generate(_start(), GREEDY, adapter="a1")).text
    assert switched.text != base_steps[0].text


async def test_load_adapter_errors(
    engine: LocalEngine, adapter_dirs: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        await engine.load_adapter("x", str(tmp_path / "missing"))
    (tmp_path / "no-manifest").mkdir()
    with pytest.raises(FailedPrecondition, match=r"manifest\.json"):
        await engine.load_adapter("x", str(tmp_path / "no-manifest"))
    with pytest.raises(FailedPrecondition, match="some/model"):
        await engine.load_adapter("x", adapter_dirs["other_base"])
    with pytest.raises(InvalidArgument):
        await engine.load_adapter("base", adapter_dirs["a1"])
    with pytest.raises(NotFound):
        await engine.unload_adapter("x")
    with pytest.raises(NotFound):
        await engine.generate(_start(), GREEDY, adapter="x")
    assert engine.info().adapters == ()
    # A file:// URI works like a path.
    info = await engine.load_adapter("a1", "file://" + adapter_dirs["a1"])
    assert [a.name for a in info.adapters] == ["a1"]


async def test_stop_sequences_cut_the_text(engine: LocalEngine) -> None:
    full = await engine.generate(_start(), GenerationParams(max_new_tokens=12))
    assert full.finish_reason == "length" and len(full.text) >= 6
    stop = full.text[3:5]
    cut = full.text.find(stop)
    out = await engine.generate(_start(), GenerationParams(max_new_tokens=12, stop=("zzzq", stop)))
    assert out.text == full.text[:cut]
    assert out.finish_reason == "stop"
    assert out.usage.completion_tokens < full.usage.completion_tokens


async def test_seeded_sampling_is_reproducible(engine: LocalEngine) -> None:
    def params(seed: int) -> GenerationParams:
        return GenerationParams(max_new_tokens=10, temperature=1.0, seed=seed)

    a = await engine.generate(_start(), params(7))
    b = await engine.generate(_start(), params(7))
    c = await engine.generate(_start(), params(8))
    greedy = await engine.generate(_start(), GenerationParams(max_new_tokens=10))
    assert a.text == b.text
    assert a.text != c.text and a.text != greedy.text
    # Same seed inside a batch of other requests: same draw.
    batched = await asyncio.gather(
        engine.generate(_start(1), params(1)), engine.generate(_start(), params(7))
    )
    assert batched[1].text == a.text
    # A vanishing nucleus keeps only the top token: sampling becomes greedy.
    nucleus = GenerationParams(max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=3)
    assert (await engine.generate(_start(), nucleus)).text == greedy.text


async def test_score_continuations_match_a_full_forward(engine: LocalEngine) -> None:
    import torch

    candidates = ["go to cabinet 1", "open fridge 1", "take mug 1 from shelf 2"]
    scores = await engine.score_continuations(_start(), "think: hm\n", candidates)
    tok = engine.tokenizer
    head = render_text(tok, _start(), add_generation_prompt=True) + "think: hm\n"
    n_head = len(encode_text(tok, head))
    for candidate, score in zip(candidates, scores, strict=True):
        ids = encode_text(tok, head + candidate + tok.eos_token)
        with torch.no_grad():
            logits = engine.model(torch.tensor([ids])).logits[0].float()
        logprobs = torch.log_softmax(logits, -1)
        expected = [float(logprobs[t - 1, ids[t]]) for t in range(n_head, len(ids))]
        assert math.isclose(score, sum(expected) / len(expected), abs_tol=1e-4)
    assert len(set(scores)) == 3


async def test_scoring_from_an_episode_cache_matches_scoring_without_it(
    engine: LocalEngine,
) -> None:
    candidates = ["go to cabinet 1", "open fridge 1", "take mug 1 from shelf 2"]
    first = await engine.generate(_start(), GREEDY, episode_id="g")
    chat = [*_start(), ChatMessage("assistant", first.text), ChatMessage("user", OBSERVATIONS[0])]
    await engine.generate(chat, GREEDY, episode_id="g")
    before = engine.stats["score_cached_tokens"]
    cached = await engine.score_continuations(chat, "think: hm\n", candidates, episode_id="g")
    assert engine.stats["score_cached_tokens"] > before  # the prompt came from the cache
    fresh = await engine.score_continuations(chat, "think: hm\n", candidates)
    assert cached == pytest.approx(fresh, abs=1e-5)
    # The cache now ends at prompt + prefix, and the episode goes on as if never scored.
    step = [
        *chat,
        ChatMessage("assistant", "think: hm\ngo to cabinet 1"),
        ChatMessage("user", "ok"),
    ]
    after = await engine.generate(step, GREEDY, episode_id="g")
    assert after.text == (await engine.generate(step, GREEDY)).text
    assert after.usage.cached_prompt_tokens > 0


async def test_scoring_runs_between_decode_steps_and_follows_adapters(
    engine: LocalEngine, adapter_dirs: dict[str, str]
) -> None:
    candidates = ["go to cabinet 1", "open fridge 1"]
    alone = await engine.score_continuations(_start(), "", candidates)
    await engine.load_adapter("a1", adapter_dirs["a1"])
    long = GenerationParams(max_new_tokens=30)
    text, during, with_a1 = await asyncio.gather(
        engine.generate(_start(1), long, adapter="a1"),
        engine.score_continuations(_start(), "", candidates),
        engine.score_continuations(_start(), "", candidates, adapter="a1"),
    )
    assert during == pytest.approx(alone, abs=1e-5)
    assert with_a1 != pytest.approx(alone, abs=1e-3)
    assert text.text == (await engine.generate(_start(1), long, adapter="a1")).text


async def test_prefix_pool_starts_new_episodes_from_a_shared_prompt_head(
    tiny_model: str, engine: LocalEngine
) -> None:
    pooled = LocalEngine(LocalEngineConfig(model=tiny_model, prefix_pool_size=2))
    try:
        first = await pooled.generate(_start(1), GREEDY, episode_id="p1")
        assert first.usage.cached_prompt_tokens == 0
        # Another episode: same system turn, different task; only the tail is encoded.
        second = await pooled.generate(_start(2), GREEDY, episode_id="p2")
        system_tokens = len(
            encode_text(engine.tokenizer, render_text(engine.tokenizer, _start()[:1]))
        )
        assert system_tokens <= second.usage.cached_prompt_tokens < second.usage.prompt_tokens
        assert second.text == (await engine.generate(_start(2), GREEDY)).text
        # Its later steps use its own episode cache, still exact.
        steps = await _episode(pooled, "p3", 3)
        assert [g.text for g in steps] == [g.text for g in await _episode(engine, None, 3)]
        assert pooled.stats["pooled_prefixes"] <= 2
        # A call without an episode id is uncached by contract: no pool either.
        assert (await pooled.generate(_start(4), GREEDY)).usage.cached_prompt_tokens == 0
    finally:
        await pooled.close()


async def test_end_episode_ttl_and_memory_cap(tiny_model: str) -> None:
    eng = LocalEngine(LocalEngineConfig(model=tiny_model, prefix_pool_size=0))
    try:
        await eng.generate(_start(), GREEDY, episode_id="e1")
        assert eng.cache_stats()["episodes"] == 1
        assert eng.end_episode("e1") is True
        assert eng.end_episode("e1") is False
        assert eng.cache_stats() == {"episodes": 0, "bytes": 0}
        again = await eng.generate(_start(), GREEDY, episode_id="e1")
        assert again.usage.cached_prompt_tokens == 0
    finally:
        await eng.close()
    capped = LocalEngine(LocalEngineConfig(model=tiny_model, cache_max_bytes=1))
    try:
        await capped.generate(_start(), GREEDY, episode_id="e1")
        assert capped.cache_stats()["episodes"] == 0  # over the cap: evicted at once
    finally:
        await capped.close()
    expiring = LocalEngine(
        LocalEngineConfig(model=tiny_model, episode_ttl_seconds=0.0, prefix_pool_size=0)
    )
    try:
        first = await expiring.generate(_start(), GREEDY, episode_id="e1")
        second = await expiring.generate(
            [*_start(), ChatMessage("assistant", first.text), ChatMessage("user", "ok")],
            GREEDY,
            episode_id="e1",
        )
        assert second.usage.cached_prompt_tokens == 0
    finally:
        await expiring.close()


async def test_lru_keeps_the_most_recent_episodes(tiny_model: str) -> None:
    probe = LocalEngine(LocalEngineConfig(model=tiny_model))
    await probe.generate(_start(), GREEDY, episode_id="probe")
    one = probe.cache_stats()["bytes"]
    await probe.close()
    eng = LocalEngine(LocalEngineConfig(model=tiny_model, cache_max_bytes=int(one * 2.5)))
    try:
        for name in ("e1", "e2", "e3"):
            await eng.generate(_start(), GREEDY, episode_id=name)
        await eng.generate(_start(), GREEDY, episode_id="e2")  # e2 is now the most recent
        assert eng.cache_stats()["episodes"] == 2
        assert eng.end_episode("e1") is False  # the least recently used went first
        assert eng.end_episode("e2") is True and eng.end_episode("e3") is True
    finally:
        await eng.close()


async def test_length_limits_and_bad_requests(engine: LocalEngine) -> None:
    out = await engine.generate(_start(), GenerationParams(max_new_tokens=1))
    assert out.usage.completion_tokens == 1
    with pytest.raises(InvalidArgument, match="context"):
        await engine.generate([ChatMessage("user", "go to cabinet 1 " * 3000)], GREEDY)
    with pytest.raises(InvalidArgument):
        await engine.generate([], GREEDY)
    with pytest.raises(InvalidArgument):
        GenerationParams(max_new_tokens=0)
    info = engine.info()
    assert (info.engine, info.device, info.dtype) == ("local", "cpu", "float32")
    assert info.max_context_tokens == 4096


async def test_closed_engine_refuses_requests(tiny_model: str) -> None:
    from a3t.errors import Unavailable

    eng = LocalEngine(LocalEngineConfig(model=tiny_model))
    await eng.close()
    with pytest.raises(Unavailable):
        await eng.generate(_start(), GREEDY)


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, a3t.inference; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
