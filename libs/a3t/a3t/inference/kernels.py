"""Low-bit weight copies for CPU decoding, behind the same nn.Linear modules.

On a CPU, decoding one token is bound by reading the weights from memory: SmolLM2-135M in
float32 streams ~540 MB per token. `use_lowbit_decode` gives each decoder Linear an int4 copy
(groups of 32 input columns, min-max affine) and the LM head an int8 copy (per output row), and
switches a Linear to that copy only for small calls (<= `max_rows` rows: decode steps); prefill
keeps the dense weights, where the int4 kernel is slower than a float32 GEMM. torch's CPU kernels
(`_weight_int4pack_mm_for_cpu`, `_weight_int8pack_mm`) run with bfloat16 activations.

Why this stays right for the default model: SmolLM2 comes from a Q4_1 GGUF (linears quantised
in groups of 32 along the input, as `w = d*q + m`, q in 0..15, d = (max-min)/15, m = min), so
min-max int4 in the same groups recovers the same grid; what changes is bfloat16 rounding of the
scales and activations. `use_lowbit_decode` reports the largest weight error it introduced, and
bench/local_engine.py compares greedy outputs with the float32 model.

Exactness: one row's result does not depend on how many rows share the call (checked), so
batching changes nothing; but a token encoded by prefill (dense) and the same token fed by a
decode step (int4) round differently, so with low-bit decoding a cached episode and a re-encoded
one agree only up to bfloat16 rounding (in float32, up to float32 rounding).

The modules stay `nn.Linear` (their class is swapped for a subclass), so peft can still wrap them
with LoRA adapters: the adapter's own matrices run dense, on top of the low-bit base.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

GROUP = 32
_DECODE_ROWS = 16


def _linear_classes() -> tuple[type, type]:
    import torch
    from torch import nn

    class Int4DecodeLinear(nn.Linear):
        """nn.Linear that uses an int4 weight copy for calls of at most `max_rows` rows."""

        packed: torch.Tensor
        scales_zeros: torch.Tensor
        max_rows: int

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // self.in_features
            if rows > self.max_rows or torch.is_grad_enabled():
                return super().forward(x)
            flat = x.reshape(rows, self.in_features).to(torch.bfloat16)
            out = torch.ops.aten._weight_int4pack_mm_for_cpu(
                flat, self.packed, GROUP, self.scales_zeros
            ).to(x.dtype)
            if self.bias is not None:
                out = out + self.bias
            return out.reshape(*x.shape[:-1], self.out_features)

    class Int8DecodeLinear(nn.Linear):
        """nn.Linear that uses a per-row int8 weight copy for calls of at most `max_rows` rows."""

        qweight: torch.Tensor
        scales: torch.Tensor
        max_rows: int

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // self.in_features
            if rows > self.max_rows or torch.is_grad_enabled():
                return super().forward(x)
            flat = x.reshape(rows, self.in_features).to(torch.bfloat16)
            out = torch.ops.aten._weight_int8pack_mm(flat, self.qweight, self.scales).to(x.dtype)
            if self.bias is not None:
                out = out + self.bias
            return out.reshape(*x.shape[:-1], self.out_features)

    return Int4DecodeLinear, Int8DecodeLinear


def _int4(module: nn.Linear) -> float:
    """Adds the int4 copy to `module`; returns the largest absolute weight error."""
    import torch

    w = module.weight.detach().float()
    n, k = w.shape
    groups = w.reshape(n, k // GROUP, GROUP)
    low = groups.amin(-1, keepdim=True)
    scale = ((groups.amax(-1, keepdim=True) - low) / 15).clamp(min=1e-12)
    q = torch.round((groups - low) / scale).clamp(0, 15)
    # The kernel computes (q - 8) * scale + zero, with scale and zero in the activations' dtype.
    scale_b = scale.to(torch.bfloat16)
    zero_b = (low + 8 * scale).to(torch.bfloat16)
    error = ((q - 8) * scale_b.float() + zero_b.float() - groups).abs().max().item()
    module.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
        q.reshape(n, k).to(torch.int32), 1
    )
    module.scales_zeros = (
        torch.stack([scale_b.reshape(n, -1), zero_b.reshape(n, -1)], dim=-1)
        .transpose(0, 1)
        .contiguous()
    )
    return error


def _int8(module: nn.Linear) -> float:
    import torch

    w = module.weight.detach().float()
    scales = (w.abs().amax(dim=1) / 127).clamp(min=1e-12)
    q = torch.round(w / scales[:, None]).clamp(-127, 127)
    scales_b = scales.to(torch.bfloat16)
    module.qweight = q.to(torch.int8).contiguous()
    module.scales = scales_b
    return (q * scales_b.float()[:, None] - w).abs().max().item()


def use_lowbit_decode(model: PreTrainedModel, max_rows: int = _DECODE_ROWS) -> dict[str, float]:
    """Gives the decoder Linears int4 and the LM head int8 decode copies (CPU, float32 model).

    Returns the largest weight error per kind ("int4", "int8"). Linears whose input size is not
    a multiple of 32 keep only their dense weights.
    """
    import torch
    from torch import nn

    int4_cls, int8_cls = _linear_classes()
    head = model.get_output_embeddings()
    errors = {"int4": 0.0, "int8": 0.0}
    with torch.no_grad():
        for name, module in model.named_modules():
            if type(module) is not nn.Linear:
                continue
            if module is head:
                errors["int8"] = max(errors["int8"], _int8(module))
                module.__class__ = int8_cls
            elif module.in_features % GROUP == 0 and module.out_features % 16 == 0:
                errors["int4"] = max(errors["int4"], _int4(module))
                module.__class__ = int4_cls
            else:
                logger.debug("%s keeps dense weights (shape %s)", name, tuple(module.weight.shape))
                continue
            module.max_rows = max_rows
    logger.info("low-bit decode weights: largest weight error %s", errors)
    return errors
