"""The settings the policy, ActRe and critic services share, and their checks: the server's
address, ports and log level, the engine's fields (`EngineSpec`) and the adapter root.

No grpc here (a3t.model_service holds the gRPC side), so a service's config and core import
without it. Each service subclasses `ModelServiceSettings`: its docstring is the `--help`
description; it sets its own `port`, `metrics_port` and `max_new_tokens` defaults, adds its own
fields and extends `problems()`:

    @dataclass(frozen=True)
    class ActReSettings(ModelServiceSettings):
        port: int = 50053
        metrics_port: int = 9103
        max_new_tokens: int = 64

A field redeclared in a subclass keeps its place in the field order, so the flags of `--help`
come in the same order for every model service, its own fields last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from a3t.inference.factory import EngineSpec

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


# kw_only: port, metrics_port and max_new_tokens have no default here (each service names its
# own) yet come before fields that do.
@dataclass(frozen=True, kw_only=True)
class ModelServiceSettings:
    host: str = "127.0.0.1"
    port: int
    metrics_port: int
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    # Inference engine: local (in-process), tgi or openai (remote server at `endpoint`).
    engine: str = "local"
    # "smollm2" (the packaged SmolLM2-135M-Instruct), a checkpoint directory or a hub id; for a
    # remote engine, the model the server serves.
    model: str = "smollm2"
    device: str = "cpu"  # local engine: cpu, cuda, cuda:N
    dtype: str = "float32"  # local engine: float32, bfloat16, float16
    quantize_4bit: bool = False  # local engine: NF4 weights (CUDA)
    threads: int = 0  # local engine: torch threads; 0 = torch's default (OMP_NUM_THREADS)
    endpoint: str = ""  # tgi/openai: the server's URL, e.g. http://tgi:80
    tokenizer: str = ""  # tgi: checkpoint whose chat template renders prompts; "" = model
    engine_timeout_seconds: float = 300.0  # tgi/openai: per request and to wait for the server
    # The shared artifacts directory: LoadAdapter's adapter.uri must lie inside it ('..', other
    # absolute paths and symlinks out are INVALID_ARGUMENT). Unset = any path (local development).
    artifact_root: Path | None = None
    # Tokens per answer when a request leaves max_new_tokens 0.
    max_new_tokens: int

    def engine_spec(self) -> EngineSpec:
        return EngineSpec(
            kind=self.engine,
            model=self.model,
            device=self.device,
            dtype=self.dtype,
            quantize_4bit=self.quantize_4bit,
            threads=self.threads,
            endpoint=self.endpoint,
            tokenizer=self.tokenizer,
            timeout_seconds=self.engine_timeout_seconds,
        )

    def problems(self) -> list[str]:
        """The checks every model service shares; a service's own extend this list."""
        found = []
        if not 0 <= self.port <= 65535:
            found.append(f"port must be in 0..65535, got {self.port}")
        if not 0 <= self.metrics_port <= 65535:
            found.append(f"metrics_port must be in 0..65535, got {self.metrics_port}")
        if self.log_level.upper() not in LOG_LEVELS:
            found.append(
                f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.max_new_tokens < 1:
            found.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        found.extend(self.engine_spec().problems())
        return found
