"""Prometheus metrics shared by every service: per-RPC counts, latencies and build info.

Names follow `a3t_<service>_<thing>_<unit>`; labels are limited to method, code, env, task_type and
round (never an id). Metrics live in the default registry and are created once per service name,
so several servers in one test process share them instead of failing on duplicate names.
"""

from __future__ import annotations

import functools
import logging
import platform
from dataclasses import dataclass

import prometheus_client
from prometheus_client import Counter, Gauge, Histogram

from a3t import __version__

log = logging.getLogger(__name__)

# Seconds; spans sub-millisecond env steps up to multi-second model calls.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True)
class RpcMetrics:
    requests: Counter
    latency: Histogram

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method=method, code=code).inc()
        self.latency.labels(method=method).observe(seconds)


@functools.cache
def rpc_metrics(service: str) -> RpcMetrics:
    """The per-RPC metrics of one service, with its build info set."""
    info = Gauge(
        f"a3t_{service}_build_info",
        "Build of the running service; the value is always 1.",
        ["version", "python"],
    )
    info.labels(version=__version__, python=platform.python_version()).set(1)
    return RpcMetrics(
        requests=Counter(
            f"a3t_{service}_rpc_requests_total",
            "RPCs handled, by method and final gRPC status code.",
            ["method", "code"],
        ),
        latency=Histogram(
            f"a3t_{service}_rpc_duration_seconds",
            "Time from request received to response sent, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
        ),
    )


def start_metrics_server(port: int, host: str = "127.0.0.1") -> int:
    """Serves /metrics on its own port (0 picks a free one); returns the bound port. Loopback
    unless told otherwise, like the gRPC port (the chart passes 0.0.0.0)."""
    server, _thread = prometheus_client.start_http_server(port, addr=host)
    bound = server.server_port
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return bound
