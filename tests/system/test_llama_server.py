"""The openai engine against a real OpenAI-compatible server: llama.cpp's llama-server serving
the packaged SmolLM2 GGUF. A policy service and a critic service (real processes) on
`--engine openai` answer a policy step and score a trajectory through it (system tier: needs
`make llama-server` first)."""

from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest

from a3t.inference.models import find_smollm2_gguf
from a3t.procs import free_port, start_service
from a3t.rpc.client import channel
from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.clients import GrpcCritic, GrpcPolicy
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]
BINARY = REPO_ROOT / "var" / "llama-cpp" / "bin" / "llama-server"
SERVED = "HuggingFaceTB/SmolLM2-135M-Instruct"  # what the engine asks for as "smollm2"
TASK = Task("alfworld", "t1", "valid_seen", "pick_and_place_simple", "put a mug in the shelf")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    if not BINARY.is_file():
        pytest.fail(f"{BINARY} is missing: run `make llama-server` first")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(BINARY),
                "-m",
                str(find_smollm2_gguf()),
                "-t",
                "1",
                "--port",
                str(port),
                "--alias",
                SERVED,
                "-c",
                "4096",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"LD_LIBRARY_PATH": str(BINARY.parent)},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"llama-server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


async def test_a_policy_step_and_a_critic_score_through_llama_server(llama_server, tmp_path):
    remote = ["--engine", "openai", "--endpoint", llama_server, "--model", "smollm2"]
    policy = start_service("policy", [*remote, "--max-new-tokens", "40"], log_dir=tmp_path)
    critic = start_service("critic", [*remote, "--scoring", "text"], log_dir=tmp_path)
    try:
        await policy.wait_ready(120)
        await critic.wait_ready(120)
        async with channel(policy.target) as chan:
            answer = await GrpcPolicy(chan).act(
                "e1",
                TASK,
                "You are in the middle of a room. You see a shelf 1 and a mug 1.",
                (),
                ("go to shelf 1", "take mug 1 from shelf 1", "look"),
                temperature=0.0,
                seed=0,
                adapter="",
            )
        assert answer.raw_text.strip() and answer.usage.completion_tokens > 0
        assert answer.usage.prompt_tokens > 0  # counted by the server, not guessed
        steps = (Step("take mug 1 from shelf 1", "You pick up the mug 1.", "I need the mug."),)
        traj = Trajectory(TASK, "You see a shelf 1.", steps, won=False)
        async with channel(critic.target) as chan:
            score, verdict = await GrpcCritic(chan).score(traj)
        # SmolLM2 may not write a readable verdict; either way the answer came back through
        # the server, as a score 0-10 or as UNPARSEABLE, never an error.
        assert (score is None and verdict == "unparseable") or 0 <= score <= 10
    finally:
        policy.stop()
        critic.stop()
