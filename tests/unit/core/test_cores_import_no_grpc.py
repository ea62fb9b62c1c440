"""Every service's `core.py` imports without grpc and without generated code (STYLE.md: plain
dataclasses in and out; `server.py` alone translates). Each core is imported in a fresh
interpreter, since this test process has long imported grpc, and that interpreter's modules are
listed."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORES = (
    "a3t_env.core",
    "a3t_policy.core",
    "a3t_actre.core",
    "a3t_critic.core",
    "a3t_trainer.core",
    "a3t_controller.core",
)
# Prints the loaded modules a core must not need: grpc (and grpc_health, grpc_reflection) and
# our generated code (a3t.<domain>.v1.*_pb2, whose *_pb2_grpc twins import grpc).
LIST_FORBIDDEN = (
    "import sys, {module}; "
    "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith(('grpc.', 'grpc_')) "
    "or (m.startswith('a3t.') and m.endswith(('_pb2', '_pb2_grpc')))))"
)


@pytest.mark.parametrize("module", CORES)
def test_importing_a_core_loads_no_grpc_and_no_generated_code(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LIST_FORBIDDEN.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"{module} loads {out.stdout.strip()}"
