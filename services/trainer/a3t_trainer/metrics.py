"""Trainer service metrics: optimizer steps, tokens trained, throughput, the last loss parts, runs
by state. Labels: state (queued, running, succeeded, failed, cancelled) and part (total,
positive, negative); never a run id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STEPS = Counter("a3t_trainer_steps_total", "Optimizer steps taken, over all runs.")
TOKENS = Counter("a3t_trainer_tokens_total", "Training tokens processed, over all runs.")
TOKENS_PER_SECOND = Gauge(
    "a3t_trainer_tokens_per_second", "Training tokens per second over the running run's last steps."
)
LOSS = Gauge(
    "a3t_trainer_loss",
    "Loss of the last optimizer step, by part (total, positive, negative).",
    ["part"],
)
RUNS = Gauge("a3t_trainer_runs", "Training runs known to this trainer, by state.", ["state"])
