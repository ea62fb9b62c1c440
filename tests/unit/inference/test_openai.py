"""The openai engine against a protocol-faithful fake vLLM on loopback: the exact chat-completion
payloads (adapter = model name), usage with cached tokens, runtime LoRA loading, error mapping."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from a3t.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable, Unimplemented
from a3t.inference.base import ChatMessage, GenerationParams, write_adapter_manifest
from a3t.inference.openai import OpenAIEngine, OpenAIEngineConfig
from a3t.inference.remote import status_error
from tests.unit.inference.fake_servers import FakeOpenAI

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "You arrive at desk 1.")]


@pytest.fixture
def server():
    with FakeOpenAI(model="tiny") as fake:
        yield fake


async def started(url: str, model: str = "tiny", timeout: float = 5.0) -> OpenAIEngine:
    engine = OpenAIEngine(OpenAIEngineConfig(url, model, timeout))
    await engine.start()
    return engine


def adapter(tmp_path: Path, name: str, base: str = "tiny") -> str:
    path = tmp_path / name
    path.mkdir()
    write_adapter_manifest(str(path), base_model=base, version=1, name=name)
    return str(path)


async def test_generate_posts_a_chat_completion(server) -> None:
    server.replies = deque(["think: desk.\nlook"])
    server.cached_tokens = 6
    engine = await started(server.url)
    out = await engine.generate(MESSAGES, GenerationParams(max_new_tokens=32), episode_id="e")
    assert server.posts("/v1/chat/completions") == [
        {
            "model": "tiny",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "You arrive at desk 1."},
            ],
            "max_tokens": 32,
            "temperature": 0.0,
            "top_p": 1.0,
            "stream": False,
        }
    ]
    assert out.text == "think: desk.\nlook" and out.finish_reason == "stop"
    # the fake counts words + 4 per message
    assert (out.usage.prompt_tokens, out.usage.cached_prompt_tokens) == ((2 + 4) + (5 + 4), 6)
    assert out.usage.completion_tokens == 4
    info = engine.info()
    assert (info.engine, info.base_model, info.max_context_tokens) == ("openai", "tiny", 2048)
    await engine.close()


async def test_sampling_fields_are_sent_when_set(server) -> None:
    server.replies = deque(["one two three four five"])
    engine = await started(server.url)
    params = GenerationParams(max_new_tokens=3, temperature=0.8, top_p=0.5, seed=9, stop=("\n",))
    out = await engine.generate(MESSAGES, params)
    body = server.posts("/v1/chat/completions")[0]
    assert {k: body[k] for k in ("max_tokens", "temperature", "top_p", "seed", "stop")} == {
        "max_tokens": 3,
        "temperature": 0.8,
        "top_p": 0.5,
        "seed": 9,
        "stop": ["\n"],
    }
    assert out.finish_reason == "length"
    await engine.close()


async def test_adapters_are_loaded_at_run_time_and_addressed_by_model_name(
    server, tmp_path
) -> None:
    engine = await started(server.url)
    path = adapter(tmp_path, "r1")
    info = await engine.load_adapter("r1", path, activate=True)
    assert server.posts("/v1/load_lora_adapter") == [{"lora_name": "r1", "lora_path": path}]
    assert info.active_adapter == "r1" and [a.name for a in info.adapters] == ["r1"]
    await engine.generate(MESSAGES, GenerationParams())
    await engine.generate(MESSAGES, GenerationParams(), adapter="base")
    assert [b["model"] for b in server.posts("/v1/chat/completions")] == ["r1", "tiny"]
    # a reload unloads the old weights first (vLLM refuses a name it already has)
    await engine.load_adapter("r1", path)
    assert server.posts("/v1/unload_lora_adapter") == [{"lora_name": "r1"}]
    assert len(server.posts("/v1/load_lora_adapter")) == 2
    info = await engine.unload_adapter("r1")
    assert info.adapters == () and info.active_adapter == ""
    assert "r1" not in server.adapters
    with pytest.raises(NotFound, match="not loaded"):
        await engine.generate(MESSAGES, GenerationParams(), adapter="r1")
    with pytest.raises(NotFound):
        await engine.unload_adapter("r1")
    await engine.close()


async def test_servers_without_runtime_loading(server, tmp_path) -> None:
    server.runtime_lora = False
    server.adapters = {"pre": "/data/pre"}  # started with --lora-modules pre=/data/pre
    engine = await started(server.url)
    await engine.load_adapter("pre", adapter(tmp_path, "pre"))
    with pytest.raises(FailedPrecondition, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING"):
        await engine.load_adapter("new", adapter(tmp_path, "new"))
    with pytest.raises(FailedPrecondition, match=r"manifest\.json"):
        (tmp_path / "bare").mkdir()
        await engine.load_adapter("bare", str(tmp_path / "bare"))
    with pytest.raises(FailedPrecondition, match="trained on 'x/y'"):
        await engine.load_adapter("o", adapter(tmp_path, "o", base="x/y"))
    await engine.close()


async def test_scoring_is_unimplemented(server) -> None:
    engine = await started(server.url)
    with pytest.raises(Unimplemented, match="grounding"):
        await engine.score_continuations(MESSAGES, "", ["look"])
    await engine.close()


async def test_start_checks_the_served_model_and_waits(server) -> None:
    with pytest.raises(FailedPrecondition, match=r"serves \['tiny'\], not 'llama'"):
        await started(server.url, model="llama")
    with pytest.raises(Unavailable, match="did not become ready"):
        await started("http://127.0.0.1:9", timeout=0.3)


async def test_errors_map_to_project_exceptions(server) -> None:
    engine = await started(server.url)
    server.http.stop()
    with pytest.raises(Unavailable, match="unreachable"):
        await engine.generate(MESSAGES, GenerationParams())
    await engine.close()
    assert isinstance(status_error(400, "context too long", "s"), InvalidArgument)
    assert isinstance(status_error(404, "no model", "s"), NotFound)
    assert isinstance(status_error(503, "loading", "s"), Unavailable)
    assert status_error(500, "boom", "s").code_name == "INTERNAL"
