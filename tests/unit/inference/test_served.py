"""ServedModel (what the model services share around an engine) and the engine factory."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from a3t.errors import ConfigError, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from a3t.inference.base import ChatMessage, GenerationParams, write_adapter_manifest
from a3t.inference.factory import EngineSpec, build_engine
from a3t.inference.models import SMOLLM2
from a3t.inference.served import ServedModel
from a3t.inference.tiny import build_tiny_tokenizer
from tests.unit.fake_engine import FakeEngine
from tests.unit.inference.fake_servers import FakeOpenAI, FakeTgi

MESSAGES = [ChatMessage("user", "You arrive at desk 1.")]


def value(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_generate_counts_tokens_time_and_cache_hits() -> None:
    model = ServedModel("unitserved")
    with pytest.raises(Unavailable, match="still loading"):
        await model.generate(MESSAGES, GenerationParams())
    engine = FakeEngine().reply("go to desk 1", "look")
    model.attach(engine)
    await model.generate(MESSAGES, GenerationParams(), episode_id="e")
    out = await model.generate(MESSAGES, GenerationParams(), episode_id="e", adapter="base")
    assert [(c.episode_id, c.adapter) for c in engine.generate_calls] == [
        ("e", None),
        ("e", "base"),
    ]
    assert out.usage.cached_prompt_tokens == 5  # the fake's cache hit on the second call
    assert value("a3t_unitserved_prompt_tokens_total") == 10
    assert value("a3t_unitserved_cached_prompt_tokens_total") == 5
    assert value("a3t_unitserved_completion_tokens_total") == 5 + 2
    assert value("a3t_unitserved_kv_cache_hit_ratio") == 0.5
    assert value("a3t_unitserved_generation_duration_seconds_count") == 2
    assert value("a3t_unitserved_generation_tokens_per_second_count") == 2
    await model.close()
    assert engine.closed


async def test_load_adapter_checks_the_request_against_the_manifest(tmp_path) -> None:
    model = ServedModel("unitadapters")
    model.attach(FakeEngine(base_model="smollm2"))
    path = tmp_path / "r1"
    path.mkdir()
    # the manifest may spell the packaged default in full: same model
    write_adapter_manifest(str(path), base_model=SMOLLM2, version=2, name="r1")
    info = await model.load_adapter("r1", f"file://{path}", version=2, activate=True)
    assert (info.active_adapter, info.adapters[0].version) == ("r1", 2)
    assert value("a3t_unitadapters_adapters_loaded") == 1
    assert model.adapter_used("") == "r1" and model.adapter_used("base") == ""
    with pytest.raises(InvalidArgument, match=r"adapter\.name"):
        await model.load_adapter("", str(path))
    with pytest.raises(InvalidArgument, match="reserved"):
        await model.load_adapter("base", str(path))
    with pytest.raises(InvalidArgument, match=r"adapter\.uri"):
        await model.load_adapter("r2", "")
    with pytest.raises(FailedPrecondition, match="version 3"):
        await model.load_adapter("r2", str(path), version=3)
    with pytest.raises(FailedPrecondition, match=r"'llama' \(the request\)"):
        await model.load_adapter("r2", str(path), base_model="llama")
    with pytest.raises(FailedPrecondition, match="only local paths"):
        await model.load_adapter("r2", "s3://bucket/r1")
    with pytest.raises(NotFound, match="does not exist"):
        await model.load_adapter("r2", str(tmp_path / "gone"))
    info = await model.unload_adapter("r1")
    assert info.adapters == () and value("a3t_unitadapters_adapters_loaded") == 0
    with pytest.raises(NotFound):
        await model.unload_adapter("r1")


def test_engine_spec_problems() -> None:
    assert EngineSpec().problems() == []
    assert EngineSpec(kind="tgi", endpoint="http://tgi:80").problems() == []
    assert "engine must be one of" in EngineSpec(kind="vllm").problems()[0]
    assert "http(s)://" in EngineSpec(kind="tgi").problems()[0]
    assert "without /v1" in EngineSpec(kind="openai", endpoint="http://v:8000/v1").problems()[0]
    local = "\n".join(EngineSpec(dtype="int3", device="gpu0", threads=-1).problems())
    assert "dtype must be" in local and "device must be" in local and "threads" in local


async def test_build_engine_picks_the_kind(tmp_path, tiny_model) -> None:
    with pytest.raises(ConfigError, match="engine must be one of"):
        await build_engine(EngineSpec(kind="nope"))
    with FakeOpenAI(model="tiny") as server:
        engine = await build_engine(EngineSpec(kind="openai", model="tiny", endpoint=server.url))
        assert engine.info().engine == "openai"
        await engine.close()
    tokenizer = build_tiny_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    with FakeTgi(tokenizer=tokenizer) as server:
        spec = EngineSpec(
            kind="tgi", model="tiny", endpoint=server.url, tokenizer=str(tmp_path / "tok")
        )
        engine = await build_engine(spec)
        assert engine.info().engine == "tgi"
        await engine.close()
    engine = await build_engine(EngineSpec(model=tiny_model, threads=1))
    try:
        out = await engine.generate(MESSAGES, GenerationParams(max_new_tokens=3))
        assert engine.info().engine == "local" and out.usage.completion_tokens >= 1
    finally:
        await engine.close()
