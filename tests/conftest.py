"""Shared test fixtures: repository paths, one torch thread, project-local ALFWORLD_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ALFWORLD_DATA = SHARED_DATA / "alfworld"

# alfworld creates $ALFWORLD_DATA on import (NOTES.md): keep it inside the project.
os.environ.setdefault("ALFWORLD_DATA", str(REPO_ROOT / "var" / "alfworld-cache"))
# One thread per process: 2 cores shared by the test process and the services it starts.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def alfworld_data() -> Path:
    """The real ALFWorld games (../shared/data/alfworld). Missing data is an error, not a skip:
    CI has it, and a test that silently skips would count as passing."""
    if not (ALFWORLD_DATA / "json_2.1.1" / "valid_seen").is_dir():
        raise FileNotFoundError(f"real ALFWorld games not found at {ALFWORLD_DATA}")
    return ALFWORLD_DATA


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random model (a3t.inference.tiny), built offline once per session: what the model
    services' contract and e2e tests serve."""
    from a3t.inference.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
