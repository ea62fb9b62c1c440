"""`ServedModel`: what the policy, ActRe and critic services share around their engine.

Each service's core holds one ServedModel (composition): it forwards to the engine, counts tokens
and time for the service's metrics, checks adapter requests the same way everywhere, and answers
Unavailable until the engine has been attached (the model loads after the gRPC port opens, while
health says NOT_SERVING). No grpc or protobuf here.

Metrics, per service (`a3t_<service>_...`):
  prompt_tokens_total, cached_prompt_tokens_total, completion_tokens_total   counters
  generation_duration_seconds           histogram of one engine call (generate or scoring)
  generation_tokens_per_second          histogram of completion tokens / call duration
  kv_cache_hit_ratio                    gauge: cached / prompt tokens since start
  adapters_loaded                       gauge
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from a3t.artifacts import resolve_under
from a3t.errors import FailedPrecondition, InvalidArgument, Unavailable
from a3t.inference.base import (
    BASE_ADAPTER,
    ChatMessage,
    Engine,
    EngineInfo,
    Generation,
    GenerationParams,
    read_adapter_manifest,
)
from a3t.inference.remote import same_model
from a3t.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

_RATE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True)
class ModelMetrics:
    prompt_tokens: Counter
    cached_prompt_tokens: Counter
    completion_tokens: Counter
    duration: Histogram
    tokens_per_second: Histogram
    cache_hit_ratio: Gauge
    adapters: Gauge


@functools.cache
def model_metrics(service: str) -> ModelMetrics:
    """The engine metrics of one service, created once per process (like `rpc_metrics`)."""
    p = f"a3t_{service}"
    return ModelMetrics(
        prompt_tokens=Counter(f"{p}_prompt_tokens_total", "Prompt tokens sent to the model."),
        cached_prompt_tokens=Counter(
            f"{p}_cached_prompt_tokens_total", "Prompt tokens served from the KV cache."
        ),
        completion_tokens=Counter(f"{p}_completion_tokens_total", "Tokens generated."),
        duration=Histogram(
            f"{p}_generation_duration_seconds",
            "Time of one engine call (generation or scoring).",
            buckets=LATENCY_BUCKETS,
        ),
        tokens_per_second=Histogram(
            f"{p}_generation_tokens_per_second",
            "Generated tokens per second of one generation call.",
            buckets=_RATE_BUCKETS,
        ),
        cache_hit_ratio=Gauge(
            f"{p}_kv_cache_hit_ratio", "Cached prompt tokens / prompt tokens since start."
        ),
        adapters=Gauge(f"{p}_adapters_loaded", "LoRA adapters loaded now."),
    )


class ServedModel:
    """An engine plus the bookkeeping every model service needs. Attach the engine once loaded."""

    def __init__(self, service: str, artifact_root: Path | None = None):
        """`artifact_root`: LoadAdapter's uri must lie inside it (None: any path)."""
        self.service = service
        self._artifact_root = artifact_root
        self._engine: Engine | None = None
        self._metrics = model_metrics(service)
        self._prompt = 0
        self._cached = 0

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        self._metrics.adapters.set(len(engine.info().adapters))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise Unavailable(f"the {self.service} model is still loading; wait for health SERVING")
        return self._engine

    # --- generation

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        episode_id: str = "",
        adapter: str = "",
    ) -> Generation:
        """`episode_id` "" = no caching; `adapter` "" = the active one, "base" = none."""
        engine = self.engine
        start = time.perf_counter()
        out = await engine.generate(
            messages, params, episode_id=episode_id or None, adapter=adapter or None
        )
        seconds = time.perf_counter() - start
        m = self._metrics
        m.duration.observe(seconds)
        m.prompt_tokens.inc(out.usage.prompt_tokens)
        m.cached_prompt_tokens.inc(out.usage.cached_prompt_tokens)
        m.completion_tokens.inc(out.usage.completion_tokens)
        if seconds > 0 and out.usage.completion_tokens:
            m.tokens_per_second.observe(out.usage.completion_tokens / seconds)
        self._prompt += out.usage.prompt_tokens
        self._cached += out.usage.cached_prompt_tokens
        if self._prompt:
            m.cache_hit_ratio.set(self._cached / self._prompt)
        return out

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str = "",
        episode_id: str = "",
    ) -> list[float]:
        engine = self.engine
        start = time.perf_counter()
        scores = await engine.score_continuations(
            messages, prefix, candidates, adapter=adapter or None, episode_id=episode_id or None
        )
        self._metrics.duration.observe(time.perf_counter() - start)
        return scores

    def end_episode(self, episode_id: str) -> bool:
        return self.engine.end_episode(episode_id)

    # --- adapters and info

    def adapter_used(self, requested: str) -> str:
        """The adapter a request naming `requested` runs with: "" = active, "base" -> ""."""
        if requested == BASE_ADAPTER:
            return ""
        return requested or self.engine.info().active_adapter

    async def load_adapter(
        self, name: str, uri: str, *, version: int = 0, base_model: str = "", activate: bool = False
    ) -> EngineInfo:
        """Checks the request against the adapter's manifest, then loads it into the engine.

        InvalidArgument: no name or uri, or a uri outside the artifact root. NotFound: no such
        directory. FailedPrecondition: no manifest.json, files that differ from it, another base
        model, or a version other than the one requested.
        """
        engine = self.engine
        if not name:
            raise InvalidArgument("adapter.name must be set, e.g. 'exp1-round-2'")
        if name == BASE_ADAPTER:
            raise InvalidArgument(f"adapter.name {BASE_ADAPTER!r} is reserved for the base model")
        if not uri:
            raise InvalidArgument("adapter.uri must be the adapter directory (path or file:// URI)")
        path = str(resolve_under(uri, self._artifact_root, "adapter.uri"))
        manifest = read_adapter_manifest(path)  # refuses a directory without manifest.json
        served = engine.info().base_model
        for claimed, where in ((manifest.base_model, "its manifest"), (base_model, "the request")):
            if claimed and not same_model(claimed, served):
                raise FailedPrecondition(
                    f"adapter {name!r} is for base model {claimed!r} ({where}), but this "
                    f"{self.service} service runs {served!r}"
                )
        if version and manifest.version != version:
            raise FailedPrecondition(
                f"adapter {name!r}: the request asks for version {version}, {path} holds "
                f"version {manifest.version}"
            )
        info = await engine.load_adapter(name, path, activate=activate)
        self._metrics.adapters.set(len(info.adapters))
        log.info("%s: loaded adapter %s v%d from %s", self.service, name, manifest.version, path)
        return info

    async def unload_adapter(self, name: str) -> EngineInfo:
        if not name:
            raise InvalidArgument("name must be the adapter to unload")
        info = await self.engine.unload_adapter(name)
        self._metrics.adapters.set(len(info.adapters))
        log.info("%s: unloaded adapter %s", self.service, name)
        return info

    def info(self) -> EngineInfo:
        return self.engine.info()

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()
