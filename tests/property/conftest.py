"""Hypothesis profiles for the property tests, and the loopback event loop they share.

`default` is the fast tier (`make test`): few examples, so the whole directory adds well under a
minute. `long` (`HYPOTHESIS_PROFILE=long`, what `make test-slow` sets) runs 20x as many. Both
have no deadline (two loaded cores make one example's time meaningless) and no example database
(it would write .hypothesis/ into the checkout; a failure prints the example and a
`@reproduce_failure` line instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.property.loopback import LoopThread

_COMMON = {
    "deadline": None,
    "database": None,
    # A gRPC round trip on a loaded machine is slow next to a pure function; that is expected.
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("default", max_examples=20, **_COMMON)
settings.register_profile("long", max_examples=400, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    """One event loop in a background thread per module: servers run there, the (synchronous)
    hypothesis tests call them through blocking stubs."""
    thread = LoopThread()
    yield thread
    thread.close()
