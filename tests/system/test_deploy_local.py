"""`make deploy-local` end to end: the chart rendered and run as pods with podman kube play, one
small experiment through the pods to a report, with the policy's container killed and started
again mid-exploration, everything torn down (system tier; about 4 minutes on 2 cores; needs
`make images` first)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.system, pytest.mark.timeout(3600)]


def test_deploy_local_completes_a_round_through_pods() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy/local/deploy_local.py"), "--kill", "policy"],
        capture_output=True,
        text=True,
        timeout=3500,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-5000:]
    assert "left out 5 Service: podman has no Services" in out
    assert "all pods SERVING" in out
    assert "killed local-a3t-policy-pod-0-policy (SIGKILL) mid-exploration" in out
    assert "experiment pods: EXPERIMENT_STATE_SUCCEEDED" in out
    assert "| 0 | " in out  # round 0's row of the report
    assert "pods and volumes removed" in out
    left = subprocess.run(["podman", "pod", "ps", "-q"], capture_output=True, text=True)
    assert left.stdout.strip() == ""
    volumes = subprocess.run(["podman", "volume", "ls", "-q"], capture_output=True, text=True)
    assert not [v for v in volumes.stdout.split() if v.startswith("local-a3t-")]
