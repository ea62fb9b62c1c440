"""Runs the ActRe service: `python -m a3t_actre [--engine local|tgi|openai] [--model M]
[--port N] [--config FILE]`.

Serves ActReService.Explain (rationales for chosen actions) on port 50053, /metrics on 9103.
Health turns SERVING once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import sys

from a3t.model_service import run_model_service
from a3t_actre.config import ActReSettings
from a3t_actre.server import registration


def main(argv: list[str] | None = None) -> int:
    return run_model_service("actre", ActReSettings, registration, argv)


if __name__ == "__main__":
    sys.exit(main())
