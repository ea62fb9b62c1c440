"""API-Bank fixtures: the real release under ../shared/data/api-bank (allowed in tests, never
copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from a3t.envs.apibank.engine import ApiBankEnvironment

API_BANK_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "api-bank"


@pytest.fixture(scope="session")
def apibank_data() -> Path:
    """API-Bank's release. Missing data is an error, not a skip: a test that silently skips
    would count as passing."""
    if not (API_BANK_DATA / "test-data" / "level-1-api.json").is_file():
        raise FileNotFoundError(f"API-Bank's release not found at {API_BANK_DATA}")
    return API_BANK_DATA


@pytest.fixture(scope="session")
def env(apibank_data: Path) -> ApiBankEnvironment:
    """One engine for the session (games never change its databases: test_engine checks)."""
    return ApiBankEnvironment(apibank_data)
