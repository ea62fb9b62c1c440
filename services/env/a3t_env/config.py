"""Settings of the env service (defaults < YAML < A3T_ENV_<FIELD> < flags; see a3t.settings)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SERVED_ENVS = ("alfworld",)
# Generated splits share a directory with real ones; keep names safe as folder names.
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class EnvSettings:
    """a3t env service: hosts ALFWorld episodes over gRPC."""

    host: str = "127.0.0.1"
    port: int = 50051
    metrics_port: int = 9101
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    # Directory in the ALFWorld layout: <data_root>/json_2.1.1/<split>/<task>/<trial>/game.tw-pddl.
    # Generated splits are written here too.
    data_root: Path = Path("var/alfworld")
    # Worker processes that run games; 0 runs them in the server process (debugging only).
    workers: int = os.cpu_count() or 1
    # Loaded games each worker keeps for reuse across resets.
    cache_size: int = 16
    session_ttl_seconds: float = 600.0
    max_sessions: int = 256
    max_action_chars: int = 256
    # Steps after which an episode ends unsolved (ALFWorld's usual budget is 50).
    max_steps: int = 50

    def problems(self) -> list[str]:
        found = []
        if not 0 <= self.port <= 65535:
            found.append(f"port must be in 0..65535, got {self.port}")
        if not 0 <= self.metrics_port <= 65535:
            found.append(f"metrics_port must be in 0..65535, got {self.metrics_port}")
        if self.workers < 0:
            found.append(f"workers must be >= 0, got {self.workers}")
        if self.cache_size < 1:
            found.append(f"cache_size must be >= 1, got {self.cache_size}")
        if self.session_ttl_seconds <= 0:
            found.append(f"session_ttl_seconds must be > 0, got {self.session_ttl_seconds}")
        if self.max_sessions < 1:
            found.append(f"max_sessions must be >= 1, got {self.max_sessions}")
        if self.max_action_chars < 1:
            found.append(f"max_action_chars must be >= 1, got {self.max_action_chars}")
        if self.max_steps < 1:
            found.append(f"max_steps must be >= 1, got {self.max_steps}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            found.append(f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        return found
