"""Policy service metrics, beyond the shared RPC and engine ones (a3t.metrics,
a3t.inference.served): steps by env and task type, unparsed outputs, inadmissible and grounded
actions. Labels: env, task_type."""

from __future__ import annotations

from prometheus_client import Counter

STEPS = Counter(
    "a3t_policy_steps_total", "Steps produced, by env and task type.", ["env", "task_type"]
)
UNPARSED = Counter(
    "a3t_policy_unparsed_outputs_total",
    "Outputs without an action line (their first line was returned as the action), by env.",
    ["env"],
)
INADMISSIBLE = Counter(
    "a3t_policy_inadmissible_actions_total",
    "Generated actions not among the request's admissible actions, by env.",
    ["env"],
)
GROUNDED = Counter(
    "a3t_policy_grounded_actions_total",
    "Inadmissible actions replaced by the best-scored admissible one (grounding), by env.",
    ["env"],
)
