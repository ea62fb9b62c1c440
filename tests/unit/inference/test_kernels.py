"""Low-bit decode weights: exact on a Q4_1-style grid up to bfloat16 rounding; the low-bit engine
batches exactly and takes LoRA adapters on top of its int4 layers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from a3t.inference.base import ChatMessage, GenerationParams
from a3t.inference.local import LocalEngine, LocalEngineConfig


def _snap_to_int4_grid(model) -> None:
    """Rounds every decoder Linear to min-max int4 in groups of 32, like a Q4_1 GGUF."""
    import torch

    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.startswith("model.layers"):
                w = module.weight
                g = w.reshape(w.shape[0], -1, 32)
                low = g.amin(-1, keepdim=True)
                scale = (g.amax(-1, keepdim=True) - low) / 15
                w.copy_((torch.round((g - low) / scale) * scale + low).reshape(w.shape))


@pytest.fixture(scope="module")
def grid_model(tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    _snap_to_int4_grid(model)
    out = tmp_path_factory.mktemp("tiny-grid")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return str(out)


def test_int4_copy_is_exact_on_the_grid_up_to_bf16(grid_model: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from a3t.inference.kernels import use_lowbit_decode

    model = AutoModelForCausalLM.from_pretrained(grid_model).eval()
    layer = model.model.layers[0].mlp.up_proj
    x = torch.randn(3, layer.in_features)
    with torch.inference_mode():
        dense = torch.nn.functional.linear(x, layer.weight)
        errors = use_lowbit_decode(model)
        low = layer(x)  # 3 rows: the int4 path
        prefill = layer(torch.randn(40, layer.in_features))  # > 16 rows: dense
    assert type(layer).__name__ == "Int4DecodeLinear"
    assert isinstance(layer, torch.nn.Linear)  # still wrappable by peft
    assert errors["int4"] < 0.02 * model.model.layers[0].mlp.up_proj.weight.abs().max()
    assert torch.allclose(low, dense, rtol=0.03, atol=0.03 * dense.abs().max().item())
    assert prefill.dtype == torch.float32 and prefill.shape == (40, layer.out_features)


@pytest.fixture
async def engines(grid_model: str) -> AsyncIterator[tuple[LocalEngine, LocalEngine]]:
    # No prefix pool: a pooled prompt would send its last token through decode (int4) kernels
    # instead of prefill (dense) ones, which rounds differently.
    dense = LocalEngine(LocalEngineConfig(model=grid_model, prefix_pool_size=0))
    low = LocalEngine(LocalEngineConfig(model=grid_model, lowbit_decode=True, prefix_pool_size=0))
    yield dense, low
    await dense.close()
    await low.close()


async def test_lowbit_engine_batches_exactly_and_takes_adapters(
    engines: tuple[LocalEngine, LocalEngine], grid_model: str, tmp_path: Path
) -> None:
    """Greedy texts of the low-bit engine are its own: bf16 rounding flips near-ties of this
    random model, and a token encoded by prefill (dense) or decode (int4) differs in rounding,
    so only paths that run the same kernels agree exactly (bench/local_engine.py measures the
    agreement with float32 on SmolLM2). Batching does not change a row's arithmetic."""
    import asyncio

    from tests.unit.inference.conftest import make_adapter

    _, low = engines
    assert low.info().dtype == "float32+int4-decode"
    prompts = [
        [ChatMessage("user", f"You arrive at cabinet {n}. On the cabinet {n}, you see a mug.")]
        for n in range(4)
    ]
    params = GenerationParams(max_new_tokens=10)
    alone = [(await low.generate(p, params)).text for p in prompts]
    together = await asyncio.gather(*(low.generate(p, params) for p in prompts))
    assert [g.text for g in together] == alone
    assert low.stats["peak_batch"] >= 3
    adapter = make_adapter(grid_model, tmp_path / "lora", seed=5)
    await low.load_adapter("lora", adapter, activate=True)
    q_proj = low.model.model.layers[0].self_attn.q_proj
    assert type(q_proj.base_layer).__name__ == "Int4DecodeLinear"  # LoRA wraps the int4 layer
    with_lora = [(await low.generate(p, params)).text for p in prompts]
    assert with_lora != alone
    await low.unload_adapter("lora")
    assert [(await low.generate(p, params)).text for p in prompts] == alone
