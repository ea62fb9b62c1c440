"""Settings of the ActRe service (defaults < YAML < A3T_ACTRE_<FIELD> < flags; a3t.settings).

Its engine serves a teacher model, or the policy's own model for self-ActRe (load the policy's
adapter).
"""

from __future__ import annotations

from dataclasses import dataclass

from a3t.inference.service import ModelServiceSettings


@dataclass(frozen=True)
class ActReSettings(ModelServiceSettings):
    """a3t ActRe service: task + history + chosen action -> the rationale for it."""

    port: int = 50053
    metrics_port: int = 9103
    # Tokens per rationale when a request leaves max_new_tokens 0: one or two sentences.
    max_new_tokens: int = 64
