"""Settings of the policy service (defaults < YAML < A3T_POLICY_<FIELD> < flags; a3t.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from a3t.inference.factory import EngineSpec
from a3t.model_service import serving_problems


@dataclass(frozen=True)
class PolicySettings:
    """a3t policy service: the ReAct agent (task + history -> thought and action)."""

    host: str = "127.0.0.1"
    port: int = 50052
    metrics_port: int = 9102
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
    # Tokens per step when a request leaves max_new_tokens 0: a thought line and an action.
    max_new_tokens: int = 96
    # Action grounding (off by default, as in the paper): a generated action that is not
    # admissible is replaced by the admissible action the model scores highest. A request turns
    # it on for itself with ground_actions=true. Needs the local or tgi engine.
    ground_actions: bool = False
    # Longest action returned; garbage longer than this is cut. Keep it <= the env's
    # max_action_chars (256 by default), which refuses longer actions.
    max_action_chars: int = 256

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
        found = serving_problems(
            self.port, self.metrics_port, self.log_level, self.max_new_tokens, self.engine_spec()
        )
        if self.max_action_chars < 16:
            found.append(f"max_action_chars must be >= 16, got {self.max_action_chars}")
        if self.ground_actions and self.engine == "openai":
            found.append(
                "ground_actions needs an engine that scores continuations (local or tgi); the "
                "openai engine cannot"
            )
        return found
