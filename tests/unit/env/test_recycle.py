"""When a worker is recycled (loads or resident memory past its limit; 0 = no limit), and the
settings that say so."""

import pytest

from a3t_env.config import EnvSettings
from a3t_env.pool import WorkerUsage, recycle_reason

MIB = 2**20


@pytest.mark.parametrize(
    ("loads", "rss_mib", "max_loads", "max_rss_mib", "reason"),
    [
        (199, 500, 200, 1024, None),
        (200, 500, 200, 1024, "loads"),
        (10, 1024, 200, 1024, "rss"),
        (250, 2000, 200, 1024, "loads"),  # both: the load count is named
        (10**6, 10**6, 0, 0, None),  # 0 = off
        (10**6, 10, 0, 1024, None),
        (1, 1024, 0, 1024, "rss"),
    ],
)
def test_recycle_reason(loads, rss_mib, max_loads, max_rss_mib, reason):
    usage = WorkerUsage(loads=loads, rss_bytes=rss_mib * MIB)
    assert recycle_reason(usage, max_loads, max_rss_mib) == reason


def test_settings():
    settings = EnvSettings(workers=3)
    assert (settings.recycle_after_loads, settings.recycle_above_rss_mib) == (200, 1024)
    assert settings.max_pending_opens() == 12
    assert EnvSettings(workers=0).max_pending_opens() == 4
    bad = EnvSettings(recycle_after_loads=-1, recycle_above_rss_mib=-2, max_opens_per_worker=0)
    assert bad.problems() == [
        "recycle_after_loads must be >= 0 (0 = off), got -1",
        "recycle_above_rss_mib must be >= 0 (0 = off), got -2",
        "max_opens_per_worker must be >= 1, got 0",
    ]
