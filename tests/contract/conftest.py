"""Fixtures for the model services' contract tests: LoRA adapters for the tiny model (one complete,
one without manifest.json, one for another base model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lora_adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """name -> adapter directory: "r1" (complete, version 1), "bare" (the same weights without
    manifest.json: a writer that did not finish), "other" (trained on another base model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from a3t.inference.base import write_adapter_manifest

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("adapters")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero (a no-op adapter): make it matter
                param.copy_(torch.randn(param.shape, generator=generator))
    peft_model.save_pretrained(root / "r1")
    shutil.copytree(root / "r1", root / "bare")
    shutil.copytree(root / "r1", root / "other")
    write_adapter_manifest(str(root / "r1"), base_model=str(tiny_model_dir), version=1, name="r1")
    write_adapter_manifest(str(root / "other"), base_model="other/model", version=1, name="other")
    return {name: str(root / name) for name in ("r1", "bare", "other")}
