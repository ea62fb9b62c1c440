"""tests/unit/conftest.py gives every unit test a 60 s timeout unless it sets its own."""

from __future__ import annotations

import pytest


def test_a_unit_test_gets_the_short_timeout(request):
    assert [m.args for m in request.node.iter_markers("timeout")] == [(60,)]


@pytest.mark.timeout(5)
def test_a_test_with_its_own_timeout_keeps_it(request):
    assert [m.args for m in request.node.iter_markers("timeout")] == [(5,)]
