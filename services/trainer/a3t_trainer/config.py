"""Settings of the trainer service (defaults < YAML < A3T_TRAINER_<FIELD> < flags; a3t.settings).

Per-run hyper-parameters (epochs, learning rate, LoRA shape, 4-bit) travel in each
CreateTrainingRun request; these are the service's own knobs and the defaults a request's zero
values stand for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")
PACKING = ("auto", "on", "off")

# Paper settings (DESIGN.md step 5), used where a request leaves a field at zero.
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_LORA_RANK = 16
DEFAULT_LORA_ALPHA = 32
DEFAULT_TARGET_MODULES = ("q_proj", "v_proj")
DEFAULT_NEGATIVE_PROB_FLOOR = 1e-3
EPOCHS_FIRST_ROUND = 10
EPOCHS_LATER_ROUNDS = 6


@dataclass(frozen=True)
class TrainerSettings:
    """a3t trainer service: contrastive policy-gradient (Q)LoRA training runs over gRPC."""

    host: str = "127.0.0.1"
    port: int = 50055
    metrics_port: int = 9105
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    # Run records and epoch checkpoints; a restarted trainer resumes its RUNNING runs from here.
    state_dir: Path = Path("var/trainer")
    # "auto" = cuda when available, else cpu.
    device: str = "auto"
    # torch intra-op threads on the CPU (NOTES.md: more threads than free cores is 10-30x slower).
    torch_threads: int = 1
    # Tokens per packed training sequence when a request says 0. Trajectories longer than this
    # lose whole early steps, never the final ones.
    max_seq_tokens: int = 2048
    # Tokens one optimizer step trains on, in whole tasks (a task's positives and its negative
    # share a step, so their common prefix cancels within the update).
    tokens_per_step: int = 8192
    # Several examples per forward row (block-diagonal attention): "auto" = on CUDA only. On the
    # CPU long packed rows cost more attention than the packing saves (docs/benchmarks.md).
    packing: str = "auto"
    # Gradient-norm clip per optimizer step; 0 = off.
    max_grad_norm: float = 1.0
    # Recompute activations in the backward pass: less memory for 7B models on one GPU, ~30% slower.
    gradient_checkpointing: bool = False
    # The shared artifacts directory: a request's dataset_uri, output_uri and init_adapter_uri
    # must lie inside it ('..', other absolute paths and symlinks out are INVALID_ARGUMENT).
    # Unset = any path this process can reach (local development); set it wherever clients
    # are not trusted with the trainer's file system (the Helm chart does).
    artifact_root: Path | None = None

    def problems(self) -> list[str]:
        found = []
        for name in ("port", "metrics_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                found.append(f"{name} must be in 0..65535, got {value}")
        if self.grace_seconds < 0:
            found.append(f"grace_seconds must be >= 0, got {self.grace_seconds}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            found.append(f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        if self.device not in DEVICES:
            found.append(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.torch_threads < 1:
            found.append(f"torch_threads must be >= 1, got {self.torch_threads}")
        if self.max_seq_tokens < 16:
            found.append(f"max_seq_tokens must be >= 16, got {self.max_seq_tokens}")
        if self.tokens_per_step < 1:
            found.append(f"tokens_per_step must be >= 1, got {self.tokens_per_step}")
        if self.packing not in PACKING:
            found.append(f"packing must be one of {', '.join(PACKING)}, got {self.packing!r}")
        if self.max_grad_norm < 0:
            found.append(f"max_grad_norm must be >= 0 (0 = off), got {self.max_grad_norm}")
        return found
