"""Controller metrics: where the experiments are and what the rounds produce.

Labels are limited to phase, outcome, round and task_type (never an experiment id): one controller
normally drives one experiment at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

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
for _service in ("env", "policy", "actre", "critic", "trainer"):  # 0 from the start, not absent
    WAITING.labels(service=_service).set(0)
ROLLOUTS_RETRIED = Counter(
    "a3t_controller_rollouts_retried_total",
    "Rollouts played again from the start with a fresh session: the env lost their session, or "
    "a service refused a request built from them.",
    ["phase"],
)
GROUPS_DROPPED = Counter(
    "a3t_controller_groups_dropped_total",
    "Tasks whose rollouts of a phase were dropped (not stored as failures, never trained on) "
    "because one rollout still failed after its retries.",
    ["phase"],
)
for _phase in ("attempt", "explore", "eval"):  # 0 from the start: a dashboard shows no failure
    ROLLOUTS_RETRIED.labels(phase=_phase)
    GROUPS_DROPPED.labels(phase=_phase)


class ExperimentStates:
    """`a3t_controller_experiments{state}`: experiments in the store by state, read at scrape
    time (pending, running, waiting = running but waiting for a service, succeeded, failed,
    cancelled), so an alert can fire on a failed experiment. Reads through its own connection:
    the store's belongs to the event loop."""

    STATES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled")

    def __init__(self, db_path: Path):
        self._db_path = db_path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "a3t_controller_experiments",
            "Experiments in the store by state (waiting: running, but waiting for a service).",
            labels=["state"],
        )
        counts = dict.fromkeys(self.STATES, 0)
        try:
            with closing(sqlite3.connect(f"file:{self._db_path}?mode=ro", uri=True)) as db:
                rows = db.execute(
                    "SELECT state, waiting_for != '' AS waiting, COUNT(*) FROM experiments "
                    "GROUP BY 1, 2"
                ).fetchall()
        except sqlite3.Error:
            rows = []  # no store yet: every count 0
        for state, waiting, n in rows:
            counts["waiting" if state == "running" and waiting else state] += n
        for state, n in counts.items():
            family.add_metric([state], n)
        yield family
