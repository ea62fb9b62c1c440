"""Env service metrics: steps, open sessions, finished episodes by outcome and task type, step
latency, opens pending, and the worker processes' memory and recycling. Labels: env, task_type,
outcome (won, lost, closed, expired), reason (why a worker was recycled); never a worker's pid."""

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
WORKERS_RSS_BYTES = Gauge(
    "a3t_env_workers_rss_bytes",
    "Resident memory of all worker processes together, as each last reported it (after an open).",
)
WORKER_RSS_MAX_BYTES = Gauge(
    "a3t_env_worker_rss_max_bytes",
    "Resident memory of the largest worker process, as it last reported it (after an open).",
)
WORKERS_DRAINING = Gauge(
    "a3t_env_workers_draining",
    "Recycled worker processes still playing their last sessions (they take no new ones).",
)
WORKER_RECYCLES = Counter(
    "a3t_env_worker_recycles_total",
    "Worker processes recycled, by reason: loads (recycle_after_loads) or rss "
    "(recycle_above_rss_mib).",
    ["reason"],
)
for _reason in ("loads", "rss"):  # 0 from the start, not absent
    WORKER_RECYCLES.labels(reason=_reason)
OPENS_PENDING = Gauge(
    "a3t_env_opens_pending",
    "CreateSession calls pending or loading now (at most max_opens_per_worker x workers).",
)
