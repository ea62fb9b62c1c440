"""Fixtures for the inference tests: the tiny random model (built once per session) and a LoRA
adapter for it with perturbed weights, so an adapter visibly changes greedy outputs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> str:
    """The session's tiny random model (tests/conftest.py), as the string engines take."""
    return str(tiny_model_dir)


def make_adapter(base: str, directory: Path, seed: int, manifest_base: str | None = None) -> str:
    """A LoRA adapter on q/v projections with random (non-zero) B matrices, plus its manifest."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from a3t.inference.base import write_adapter_manifest

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero (a no-op adapter): make it matter
                param.copy_(torch.randn(param.shape, generator=generator))
    peft_model.save_pretrained(directory)
    write_adapter_manifest(
        str(directory), base_model=manifest_base or base, version=seed, name=directory.name
    )
    return str(directory)


@pytest.fixture(scope="session")
def adapter_dirs(tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "a1": make_adapter(tiny_model, root / "a1", seed=1),
        "a2": make_adapter(tiny_model, root / "a2", seed=2),
        "other_base": make_adapter(tiny_model, root / "other", seed=3, manifest_base="some/model"),
    }
