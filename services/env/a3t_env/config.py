"""Settings of the env service (defaults < YAML < A3T_ENV_<FIELD> < flags; see a3t.settings)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from a3t.envs import ENVIRONMENTS


def _entries(entries: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[str]]:
    """ "name=value" entries -> [(name, value)] in order, and what is wrong with them."""
    found, problems = [], []
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not name.strip() or not value.strip():
            problems.append(f"{entry[:80]!r} is not ENV=VALUE")
        else:
            found.append((name.strip(), value.strip()))
    return found, problems


def _pairs(entries: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """ "name=value" entries -> {name: value}, and what is wrong with them."""
    found, problems = _entries(entries)
    return dict(found), problems


def _overlap(a: Path, b: Path) -> bool:
    """Whether one directory is the other or lies inside it (links followed)."""
    a, b = a.resolve(), b.resolve()
    return a.is_relative_to(b) or b.is_relative_to(a)


@dataclass(frozen=True)
class EnvSettings:
    """a3t env service: hosts episodes of the registered environments (a3t.envs) over gRPC."""

    host: str = "127.0.0.1"
    port: int = 50051
    metrics_port: int = 9101
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    # Environments served (names registered in a3t.envs.ENVIRONMENTS).
    envs: tuple[str, ...] = ("alfworld", "apibank", "webshop")
    # Each environment's data lives in <data_root>/<env>/ (ALFWorld: json_2.1.1/<split>/...;
    # WebShop: <split>/), generated splits included, unless env_data_roots names another place.
    data_root: Path = Path("var/envs")
    # Per-env data roots, "ENV=DIR" (e.g. alfworld=../shared/data/alfworld).
    env_data_roots: tuple[str, ...] = ()
    # Read-only data roots, "ENV=DIR" (repeat the env for several): their splits are listed
    # and played next to those of the env's data root, which stays the only place written to
    # (GenerateTasks). A split name found in two of an env's roots is refused, never guessed.
    env_read_only_roots: tuple[str, ...] = ()
    # Per-env limits on one action's length, "ENV=CHARS"; default: the env's own (a3t.envs).
    env_max_action_chars: tuple[str, ...] = ()
    # Worker processes that run games; 0 runs them in the server process (debugging only).
    workers: int = os.cpu_count() or 1
    # Loaded games each worker keeps for reuse across resets.
    cache_size: int = 16
    # A worker process is recycled (takes no new sessions, is replaced by a fresh process at
    # once, and stops when its last session ends) after this many game loads, or once its
    # resident memory passes this many MiB: the ALFWorld/TextWorld engine leaks ~3-4.5 MiB per
    # load. 0 turns either limit off; neither applies with workers=0.
    recycle_after_loads: int = 200
    recycle_above_rss_mib: int = 1024
    # CreateSession calls pending or loading at once, per worker; past max_opens_per_worker x
    # workers an open is answered RESOURCE_EXHAUSTED at once with a retry hint, not queued.
    max_opens_per_worker: int = 4
    session_ttl_seconds: float = 600.0
    max_sessions: int = 256
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
        for field in ("recycle_after_loads", "recycle_above_rss_mib"):
            if getattr(self, field) < 0:
                found.append(f"{field} must be >= 0 (0 = off), got {getattr(self, field)}")
        if self.max_opens_per_worker < 1:
            found.append(f"max_opens_per_worker must be >= 1, got {self.max_opens_per_worker}")
        if self.session_ttl_seconds <= 0:
            found.append(f"session_ttl_seconds must be > 0, got {self.session_ttl_seconds}")
        if self.max_sessions < 1:
            found.append(f"max_sessions must be >= 1, got {self.max_sessions}")
        unknown = [e for e in self.envs if e not in ENVIRONMENTS]
        if unknown or not self.envs:
            found.append(
                f"envs must name registered environments ({', '.join(sorted(ENVIRONMENTS))}), "
                f"got {list(self.envs)}"
            )
        for field in ("env_data_roots", "env_read_only_roots", "env_max_action_chars"):
            pairs, problems = _pairs(getattr(self, field))
            found.extend(f"{field}: {p}" for p in problems)
            stray = sorted(set(pairs) - set(self.envs))
            if stray:
                found.append(
                    f"{field} names envs not served here: {stray} (envs: {list(self.envs)})"
                )
        found.extend(self._read_only_problems())
        limits, _ = _pairs(self.env_max_action_chars)
        for env, value in limits.items():
            if not value.isdigit() or int(value) < 1:
                found.append(f"env_max_action_chars: {env}={value[:40]!r} must be an integer >= 1")
        if self.max_steps < 1:
            found.append(f"max_steps must be >= 1, got {self.max_steps}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            found.append(f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        return found

    def _read_only_problems(self) -> list[str]:
        """A read-only root must be a directory apart from the env's other roots: never the
        data root (written to), inside it or around it, and never given twice."""
        found = []
        entries, _ = _entries(self.env_read_only_roots)
        for env in self.envs:
            seen = [("the env's data root", self.env_root(env))]
            for name, value in entries:
                if name != env:
                    continue
                root, entry = Path(value).expanduser(), f"env_read_only_roots: {env}={value}"
                if not root.is_dir():
                    found.append(f"{entry} is not a directory")
                clash = next((what for what, other in seen if _overlap(root, other)), None)
                if clash is not None:
                    found.append(
                        f"{entry} is, contains or lies inside {clash}; give each of the "
                        "env's roots a directory of its own"
                    )
                seen.append((f"the read-only root {value}", root))
        return found

    def env_root(self, env: str) -> Path:
        """Where `env` keeps its data: its env_data_roots entry, else <data_root>/<env>."""
        roots, _ = _pairs(self.env_data_roots)
        return Path(roots[env]).expanduser() if env in roots else self.data_root / env

    def read_only_roots(self, env: str) -> tuple[Path, ...]:
        """The env's read-only data roots (env_read_only_roots), in the order given."""
        entries, _ = _entries(self.env_read_only_roots)
        return tuple(Path(value).expanduser() for name, value in entries if name == env)

    def max_pending_opens(self) -> int:
        """Opens the server takes at once; workers=0 counts as one worker."""
        return self.max_opens_per_worker * max(self.workers, 1)

    def max_action_chars(self, env: str) -> int:
        limits, _ = _pairs(self.env_max_action_chars)
        return int(limits[env]) if env in limits else ENVIRONMENTS[env].max_action_chars
