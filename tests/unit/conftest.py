"""Unit-test settings: a per-test timeout far below the suite's global one (pyproject.toml).

Unit tests are pure logic with fakes, each well under a second (STYLE.md); one that hangs (an
await nobody answers, a lock never released) fails here in a minute instead of holding the run
for the global 600 s. A test that sets its own `timeout` mark keeps it; the slow tier (the real
SmolLM2 model) keeps the global one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_TIMEOUT_SECONDS = 60
UNIT_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Called with every collected item of the session, not only this directory's.
    for item in items:
        if not item.path.is_relative_to(UNIT_DIR):
            continue
        if item.get_closest_marker("timeout") or item.get_closest_marker("slow"):
            continue
        item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_SECONDS))
