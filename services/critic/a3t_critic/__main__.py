"""Runs the critic service: `python -m a3t_critic [--engine local|tgi|openai] [--model M]
[--rubric NAME] [--rubrics-file FILE] [--port N] [--config FILE]`.

Serves CriticService.Score (0-10 with a verdict and reasons) on port 50054, /metrics on 9104.
Health turns SERVING once the model is loaded (local) or its server answers (tgi, openai).
"""

from __future__ import annotations

import sys

from a3t.model_service import run_model_service
from a3t_critic.config import CriticSettings
from a3t_critic.server import registration


def main(argv: list[str] | None = None) -> int:
    return run_model_service("critic", CriticSettings, registration, argv)


if __name__ == "__main__":
    sys.exit(main())
