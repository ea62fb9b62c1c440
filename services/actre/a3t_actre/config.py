"""Settings of the ActRe service (defaults < YAML < A3T_ACTRE_<FIELD> < flags; a3t.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from a3t.inference.factory import EngineSpec
from a3t.model_service import serving_problems


@dataclass(frozen=True)
class ActReSettings:
    """a3t ActRe service: task + history + chosen action -> the rationale for it."""

    host: str = "127.0.0.1"
    port: int = 50053
    metrics_port: int = 9103
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    # Inference engine: local (in-process), tgi or openai (remote server at `endpoint`).
    # A teacher model, or the policy's own model for self-ActRe (load the policy's adapter).
    engine: str = "local"
    model: str = "smollm2"  # "smollm2", a checkpoint directory or a hub id (see the policy)
    device: str = "cpu"  # local engine: cpu, cuda, cuda:N
    dtype: str = "float32"  # local engine: float32, bfloat16, float16
    quantize_4bit: bool = False  # local engine: NF4 weights (CUDA)
    threads: int = 0  # local engine: torch threads; 0 = torch's default (OMP_NUM_THREADS)
    endpoint: str = ""  # tgi/openai: the server's URL
    tokenizer: str = ""  # tgi: checkpoint whose chat template renders prompts; "" = model
    engine_timeout_seconds: float = 300.0  # tgi/openai: per request and to wait for the server
    # The shared artifacts directory: LoadAdapter's adapter.uri must lie inside it ('..', other
    # absolute paths and symlinks out are INVALID_ARGUMENT). Unset = any path (local development).
    artifact_root: Path | None = None
    # Tokens per rationale when a request leaves max_new_tokens 0: one or two sentences.
    max_new_tokens: int = 64

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
        return serving_problems(
            self.port, self.metrics_port, self.log_level, self.max_new_tokens, self.engine_spec()
        )
