"""The tgi engine against a protocol-faithful fake TGI on loopback: the exact payloads (prompt,
sampling, adapter_id, streaming), scoring from prefill log-probs, adapters, error mapping."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from a3t.errors import FailedPrecondition, NotFound, Unavailable
from a3t.inference import chat
from a3t.inference.base import ChatMessage, GenerationParams, write_adapter_manifest
from a3t.inference.tgi import TgiEngine, TgiEngineConfig
from a3t.inference.tiny import build_tiny_tokenizer
from tests.unit.inference.fake_servers import FakeTgi, _prefill_logprob

MESSAGES = [
    ChatMessage("system", "You are an agent in a household."),
    ChatMessage("user", "You arrive at countertop 1. On the countertop 1, you see a mug 1."),
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tok")
    build_tiny_tokenizer().save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path):
    return build_tiny_tokenizer()


@pytest.fixture
def tgi(tokenizer):
    with FakeTgi(tokenizer=tokenizer, adapters=("r1",)) as fake:
        yield fake


async def started(url: str, tokenizer_dir: Path, timeout: float = 5.0) -> TgiEngine:
    engine = TgiEngine(TgiEngineConfig(url, "tiny", str(tokenizer_dir), timeout))
    await engine.start()
    return engine


def adapter(tmp_path: Path, name: str, base: str = "tiny") -> str:
    path = tmp_path / name
    path.mkdir()
    write_adapter_manifest(str(path), base_model=base, version=3, name=name)
    return str(path)


async def test_greedy_generate_streams_the_rendered_chat(tgi, tokenizer_dir, tokenizer) -> None:
    tgi.replies = deque(["think: A mug.\ntake mug 1 from countertop 1"])
    engine = await started(tgi.url, tokenizer_dir)
    out = await engine.generate(MESSAGES, GenerationParams(max_new_tokens=32), episode_id="e1")
    (body,) = tgi.posts("/")
    prompt = chat.render_text(tokenizer, MESSAGES, add_generation_prompt=True)
    assert body == {
        "inputs": prompt,
        "parameters": {"details": True, "do_sample": False, "max_new_tokens": 32},
        "stream": True,
    }
    assert prompt.endswith("<|im_start|>assistant\n")
    assert out.text == "think: A mug.\ntake mug 1 from countertop 1"
    assert out.finish_reason == "stop"
    reply_tokens = len(tokenizer(out.text)["input_ids"]) + 1  # + the end-of-turn token
    assert out.usage.prompt_tokens == len(chat.encode_text(tokenizer, prompt))
    assert (out.usage.completion_tokens, out.usage.cached_prompt_tokens) == (reply_tokens, 0)
    assert engine.end_episode("e1") is False  # TGI keeps its own prefix cache
    info = engine.info()
    assert (info.engine, info.dtype, info.max_context_tokens, info.device) == (
        "tgi",
        "float16",
        2048,
        "",
    )


async def test_sampling_with_an_adapter_and_stop_sequences(tgi, tokenizer_dir, tmp_path) -> None:
    tgi.replies = deque(["go to desk 1\n\nYou arrive at desk 1."])
    engine = await started(tgi.url, tokenizer_dir)
    info = await engine.load_adapter("r1", adapter(tmp_path, "r1"), activate=True)
    assert info.active_adapter == "r1" and info.adapters[0].version == 3
    params = GenerationParams(max_new_tokens=40, temperature=0.7, top_p=0.9, seed=7, stop=("\n\n",))
    out = await engine.generate(MESSAGES, params)
    # Loading probed TGI with the adapter and without it (TGI serves unknown ids as the base).
    probes = sorted(str(p["parameters"].get("adapter_id")) for p in tgi.posts("/")[:2])
    assert probes == ["None", "r1"]
    assert tgi.posts("/")[2]["parameters"] == {
        "adapter_id": "r1",
        "details": True,
        "do_sample": True,
        "max_new_tokens": 40,
        "seed": 7,
        "stop": ["\n\n"],
        "temperature": 0.7,
        "top_p": 0.9,
    }
    # TGI returns the stop sequence in its text; the Engine contract leaves it out
    assert out.text == "go to desk 1" and out.finish_reason == "stop"
    # "base" sends no adapter_id; top_p 1 is not sent (TGI requires top_p < 1)
    await engine.generate(MESSAGES, GenerationParams(temperature=1.0), adapter="base")
    assert tgi.posts("/")[3]["parameters"] == {
        "details": True,
        "do_sample": True,
        "max_new_tokens": 128,
        "temperature": 1.0,
    }


async def test_length_finish(tgi, tokenizer_dir) -> None:
    tgi.replies = deque(["take mug 1 from countertop 1 and then go to the sinkbasin 1"])
    engine = await started(tgi.url, tokenizer_dir)
    out = await engine.generate(MESSAGES, GenerationParams(max_new_tokens=3))
    assert out.finish_reason == "length" and out.usage.completion_tokens == 3


async def test_score_continuations_from_prefill_logprobs(tgi, tokenizer_dir, tokenizer) -> None:
    engine = await started(tgi.url, tokenizer_dir)
    candidates = ["go to cabinet 1", "go to cabinet 10", "look"]
    scores = await engine.score_continuations(MESSAGES, "think: x\n", candidates)
    head_text = chat.render_text(tokenizer, MESSAGES, add_generation_prompt=True) + "think: x\n"
    head = chat.encode_text(tokenizer, head_text)
    fulls = [chat.encode_text(tokenizer, head_text + c + "<|im_end|>") for c in candidates]
    # scored from where any candidate departs from the head, and at least the head's last
    # token (the local engine's rule)
    shared = min(
        *(
            next((i for i, (a, b) in enumerate(zip(head, f, strict=False)) if a != b), len(head))
            for f in fulls
        ),
        len(head) - 1,
    )
    expected = [
        sum(_prefill_logprob(t, i) for i, t in enumerate(f) if i >= shared) / (len(f) - shared)
        for f in fulls
    ]
    assert scores == pytest.approx(expected)
    bodies = tgi.posts("/")
    assert sorted(b["inputs"] for b in bodies) == sorted(
        head_text + c + "<|im_end|>" for c in candidates
    )
    assert all(
        b["parameters"] == {"decoder_input_details": True, "details": True, "max_new_tokens": 1}
        and b["stream"] is False
        for b in bodies
    )
    assert await engine.score_continuations(MESSAGES, "", []) == []


async def test_scoring_refuses_a_server_that_tokenizes_differently(tgi, tokenizer_dir) -> None:
    engine = await started(tgi.url, tokenizer_dir)
    tgi.tokenizer = build_tiny_tokenizer(vocab_size=300)  # another vocabulary server-side
    with pytest.raises(FailedPrecondition, match="tokenizes the prompt differently"):
        await engine.score_continuations(MESSAGES, "", ["look"])


async def test_adapter_checks(tgi, tokenizer_dir, tmp_path) -> None:
    engine = await started(tgi.url, tokenizer_dir)
    with pytest.raises(NotFound, match="not loaded"):
        await engine.generate(MESSAGES, GenerationParams(), adapter="r1")
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(FailedPrecondition, match=r"manifest\.json"):
        await engine.load_adapter("bare", str(bare))
    with pytest.raises(NotFound, match="does not exist"):
        await engine.load_adapter("gone", str(tmp_path / "gone"))
    with pytest.raises(FailedPrecondition, match="trained on 'other/model'"):
        await engine.load_adapter("o", adapter(tmp_path, "o", base="other/model"))
    # TGI was not launched with r2 and would answer with the base model: refused, not recorded
    with pytest.raises(FailedPrecondition, match=r"does not serve adapter 'r2'.*LORA_ADAPTERS=r2="):
        await engine.load_adapter("r2", adapter(tmp_path, "r2"))
    assert engine.info().adapters == ()
    with pytest.raises(NotFound, match="not loaded"):
        await engine.generate(MESSAGES, GenerationParams(), adapter="r2")
    info = await engine.load_adapter("r1", adapter(tmp_path, "r1"))  # one it serves
    assert [a.name for a in info.adapters] == ["r1"]
    info = await engine.unload_adapter("r1")
    assert info.adapters == ()
    with pytest.raises(NotFound):
        await engine.unload_adapter("r1")


async def test_server_errors_map_to_retryable_or_not(tgi, tokenizer_dir) -> None:
    engine = await started(tgi.url, tokenizer_dir)
    tgi.overloaded = True
    with pytest.raises(Unavailable, match="overloaded"):
        await engine.generate(MESSAGES, GenerationParams())
    tgi.overloaded = False
    url = tgi.url
    tgi.http.stop()
    with pytest.raises(Unavailable, match="unreachable"):
        await engine.generate(MESSAGES, GenerationParams())
    with pytest.raises(Unavailable, match="did not become ready"):
        await started(url, tokenizer_dir, timeout=0.3)


async def test_start_waits_for_health(tokenizer, tokenizer_dir) -> None:
    with FakeTgi(tokenizer=tokenizer, ready=False) as fake:
        with pytest.raises(Unavailable, match="did not become ready"):
            await started(fake.url, tokenizer_dir, timeout=1.0)
        assert [r.path for r in fake.requests].count("/health") >= 2
