"""The six images `make images` built, started for real with podman: each answers `--help`, and
each service started from its image turns its gRPC health SERVING (system tier)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
import yaml

from a3t.procs import free_port
from a3t.rpc.client import wait_for_serving
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.system
SERVICES = ("env", "policy", "actre", "critic", "trainer", "controller")
VERSION = yaml.safe_load((REPO_ROOT / "deploy/helm/a3t/Chart.yaml").read_text())["appVersion"]


def image(name: str) -> str:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `apt-get install podman buildah runc` (NOTES.md)")
    tag = f"localhost/a3t-{name}:{VERSION}"
    if subprocess.run(["podman", "image", "exists", tag]).returncode != 0:
        pytest.fail(f"{tag} is not built: run `make images` first")
    return tag


@pytest.mark.parametrize("name", SERVICES)
def test_each_image_answers_help(name: str) -> None:
    done = subprocess.run(
        ["podman", "run", "--rm", image(name), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--port" in done.stdout and "--metrics-port" in done.stdout


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_turns_serving_in_its_container(name: str) -> None:
    port, metrics = free_port(), free_port()
    run = subprocess.run(
        [
            *("podman", "run", "-d", "--rm", "--network", "host", image(name)),
            *("--port", str(port), "--metrics-port", str(metrics)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    container = run.stdout.strip()
    try:
        # Model services convert the packaged SmolLM2 on their first start (~30 s).
        asyncio.run(wait_for_serving(f"127.0.0.1:{port}", timeout=300))
    except TimeoutError as exc:
        logs = subprocess.run(["podman", "logs", container], capture_output=True, text=True)
        pytest.fail(f"{name}: {exc}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
    finally:
        subprocess.run(["podman", "stop", "-t", "10", container], capture_output=True)
