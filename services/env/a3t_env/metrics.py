"""Env service metrics: steps, open sessions, finished episodes by outcome and task type, step
latency. Labels: env, task_type, outcome (won, lost, closed, expired)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from a3t.metrics import LATENCY_BUCKETS

STEPS = Counter("a3t_env_steps_total", "Actions stepped, by env.", ["env"])
SESSIONS_OPEN = Gauge("a3t_env_sessions_open", "Sessions open now, by env.", ["env"])
EPISODES = Counter(
    "a3t_env_episodes_total",
    "Episodes finished, by env, task type and outcome (won, lost, closed, expired).",
    ["env", "task_type", "outcome"],
)
STEP_SECONDS = Histogram(
    "a3t_env_step_duration_seconds",
    "Time to carry out one action in the engine, by env.",
    ["env"],
    buckets=LATENCY_BUCKETS,
)
