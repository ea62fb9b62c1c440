"""Controller metrics: where the experiments are and what the rounds produce.

Labels are limited to phase, outcome, round and task_type (never an experiment id): one controller
normally drives one experiment at a time.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROUND = Gauge("a3t_controller_round", "Round the latest active experiment is in (0-based).")
PHASE = Gauge(
    "a3t_controller_phase_info",
    "1 for the phase the latest active experiment is in, 0 for the others.",
    ["phase"],
)
EPISODES = Counter(
    "a3t_controller_episodes_total",
    "Episodes stored, by phase (attempt, explore, eval) and outcome (won, lost).",
    ["phase", "outcome"],
)
EVAL_SUCCESS = Gauge(
    "a3t_controller_eval_success_ratio",
    "Held-out success rate of each round's adapter (round -1 = the base policy).",
    ["round"],
)
WAITING = Gauge(
    "a3t_controller_waiting_for_service",
    "1 while the controller waits for a service that does not answer (down or restarting).",
    ["service"],
)
EPISODES_REPLAYED = Counter(
    "a3t_controller_episodes_replayed_total",
    "Episodes played again from the start because the env lost their session.",
    ["phase"],
)
