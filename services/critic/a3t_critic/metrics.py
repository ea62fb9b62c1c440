"""Critic service metrics, beyond the shared RPC and engine ones: the scores given, answers that
needed the repair retry, and answers that stayed unparseable. Labels: env."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SCORES = Histogram(
    "a3t_critic_score",
    "Scores given (0-10), by env.",
    ["env"],
    buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
)
REPAIRS = Counter(
    "a3t_critic_repairs_total",
    "Answers that did not parse and were retried once with the parse error, by env.",
    ["env"],
)
UNPARSEABLE = Counter(
    "a3t_critic_unparseable_total",
    "Trajectories left unscored because no answer parsed, even after the retry, by env.",
    ["env"],
)
