"""Builds the engine a model service's config names: `local`, `tgi` or `openai`.

    engine = await build_engine(EngineSpec(kind="tgi", model="smollm2", endpoint="http://tgi:80"))

`build_engine` returns a ready engine: the local one has loaded its model, a remote one has seen
its server answer (it waits up to `timeout_seconds`, so a service started before its TGI/vLLM
stays NOT_SERVING meanwhile). Engine modules are imported only when chosen, so a service on a
remote engine never imports torch's model code for nothing, and vice versa.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from a3t.errors import ConfigError
from a3t.inference.base import Engine

DTYPES = ("float32", "bfloat16", "float16")
_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+|mps)$")


@dataclass(frozen=True)
class EngineSpec:
    """Which engine a service runs and how; the fields every model service's config carries."""

    kind: str = "local"  # "local" | "tgi" | "openai"
    model: str = "smollm2"  # "smollm2" (packaged default), a checkpoint dir, or a hub id
    device: str = "cpu"  # local: "cpu", "cuda", "cuda:N"
    dtype: str = "float32"  # local: float32 | bfloat16 | float16
    quantize_4bit: bool = False  # local: NF4 weights (CUDA)
    threads: int = 0  # local: torch intra-op threads; 0 = torch's default
    endpoint: str = ""  # tgi/openai: the server's base URL
    tokenizer: str = ""  # tgi: where the chat template comes from; "" = model
    timeout_seconds: float = 300.0  # tgi/openai: per request, and to wait for the server

    def problems(self) -> list[str]:
        found = []
        if self.kind not in ENGINES:
            found.append(f"engine must be one of {sorted(ENGINES)}, got {self.kind!r}")
        if not self.model:
            found.append("model must be set: 'smollm2', a checkpoint directory or a hub id")
        if self.kind in ("tgi", "openai"):
            if not self.endpoint.startswith(("http://", "https://")):
                found.append(
                    f"endpoint must be the {self.kind} server's http(s):// URL, got "
                    f"{self.endpoint!r}"
                )
            if self.kind == "openai" and self.endpoint.rstrip("/").endswith("/v1"):
                found.append(f"endpoint is the server root without /v1, got {self.endpoint!r}")
        if self.kind == "local":
            if self.dtype not in DTYPES:
                found.append(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
            if not _DEVICE.match(self.device):
                found.append(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.threads < 0:
            found.append(f"threads must be >= 0, got {self.threads}")
        if self.timeout_seconds <= 0:
            found.append(f"timeout_seconds must be > 0, got {self.timeout_seconds}")
        return found


async def _local(spec: EngineSpec) -> Engine:
    from a3t.inference.local import LocalEngine, LocalEngineConfig

    config = LocalEngineConfig(
        model=spec.model,
        device=spec.device,
        dtype=spec.dtype,
        quantize_4bit=spec.quantize_4bit,
        threads=spec.threads,
    )
    # Loading takes seconds; the event loop keeps answering health (NOT_SERVING) meanwhile.
    return await asyncio.to_thread(LocalEngine, config)


async def _tgi(spec: EngineSpec) -> Engine:
    from a3t.inference.tgi import TgiEngine, TgiEngineConfig

    engine = await asyncio.to_thread(
        TgiEngine, TgiEngineConfig(spec.endpoint, spec.model, spec.tokenizer, spec.timeout_seconds)
    )
    await engine.start()
    return engine


async def _openai(spec: EngineSpec) -> Engine:
    from a3t.inference.openai import OpenAIEngine, OpenAIEngineConfig

    engine = OpenAIEngine(OpenAIEngineConfig(spec.endpoint, spec.model, spec.timeout_seconds))
    try:
        await engine.start()
    except BaseException:
        await engine.close()
        raise
    return engine


ENGINES: dict[str, Callable[[EngineSpec], Awaitable[Engine]]] = {
    "local": _local,
    "tgi": _tgi,
    "openai": _openai,
}


async def build_engine(spec: EngineSpec) -> Engine:
    """A ready engine of `spec.kind`; ConfigError when the spec has problems."""
    problems = spec.problems()
    if problems:
        raise ConfigError(problems)
    return await ENGINES[spec.kind](spec)
