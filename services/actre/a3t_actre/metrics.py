"""ActRe service metrics, beyond the shared RPC and engine ones: rationales written and empty
ones (the model said nothing usable). Labels: env."""

from __future__ import annotations

from prometheus_client import Counter

RATIONALES = Counter("a3t_actre_rationales_total", "Rationales written, by env.", ["env"])
EMPTY = Counter(
    "a3t_actre_empty_rationales_total",
    "Answers with no usable rationale (returned empty), by env.",
    ["env"],
)
