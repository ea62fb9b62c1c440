"""A service started with a --host it cannot listen on, or a bad security file, as a real process
(`python -m a3t_env`): one clear line naming what is wrong, no traceback, exit code 2."""

import os
import subprocess
import sys

import pytest


def run_env(args: list[str], **environ: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "a3t_env", "--port", "0", "--metrics-port", "0", *args],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("nonsense.invalid", "is neither an IP address nor a name that resolves"),
        ("999.1.1.1", "is neither an IP address nor a name that resolves"),
        ("192.0.2.1", "(192.0.2.1) is not an address of this machine"),  # TEST-NET-1
    ],
)
def test_a_host_that_cannot_be_listened_on_is_one_line_naming_the_flag(host, says):
    done = run_env(["--host", host, "--workers", "0"])
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("a3t-env: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"a3t-env: --host {host!r} ")
    assert says in errors[0]
    assert "Traceback" not in done.stderr


def test_a_bad_token_file_is_refused_at_start_with_the_variable_named(tmp_path):
    done = run_env([], A3T_AUTH_TOKEN_FILE=str(tmp_path / "missing"))
    assert done.returncode == 2
    assert f"$A3T_AUTH_TOKEN_FILE: cannot read {tmp_path / 'missing'}" in done.stderr
    assert "Traceback" not in done.stderr
