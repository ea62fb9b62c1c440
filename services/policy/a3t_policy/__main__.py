"""Runs the policy service: `python -m a3t_policy [--engine local|tgi|openai] [--model M]
[--port N] [--config FILE]`.

Serves PolicyService.Act (the ReAct agent) on port 50052, /metrics on 9102. Health turns SERVING
once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import sys

from a3t.model_service import run_model_service
from a3t_policy.config import PolicySettings
from a3t_policy.server import registration


def main(argv: list[str] | None = None) -> int:
    return run_model_service("policy", PolicySettings, registration, argv)


if __name__ == "__main__":
    sys.exit(main())
