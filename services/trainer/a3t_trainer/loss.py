"""The contrastive policy-gradient loss (DESIGN.md, A³T round step 5).

    loss = -Σ_τ w(τ) · Σ_{t ∈ loss tokens of τ} log p(x_t | x_<t) / N

N is one global normaliser (loss tokens per optimizer step, averaged over the epoch), not a
per-sequence mean: every token counts the same whichever sequence or pack it sits in, so long
trajectories are not down-weighted and packing does not change the gradient.

Negatively weighted tokens are guarded: their log-prob is clipped from below at
log(negative_prob_floor), so a token the model already gives less than that probability adds no
gradient (the unbounded -log p term would otherwise keep pushing it down and wreck the shared
prefix). The positive and negative parts are returned separately so both can be logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossParts:
    """Scalar tensors; `total` = `positive` + `negative` carries the gradient."""

    total: torch.Tensor
    positive: torch.Tensor  # from tokens with weight > 0 (>= 0: minimising raises their log-prob)
    negative: torch.Tensor  # from tokens with weight < 0 (<= 0: minimising lowers their log-prob)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) per position; logits [..., V], targets [...]. Computed in float32."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def policy_gradient_loss(
    logprobs: torch.Tensor,
    weights: torch.Tensor,
    normaliser: float,
    negative_prob_floor: float,
) -> LossParts:
    """The loss over a flat set of loss tokens.

    `logprobs`: log p of each loss token, [n]. `weights`: the weight w(τ) of the trajectory each
    token belongs to, [n]. `normaliser`: N > 0. `negative_prob_floor`: in (0, 1).
    """
    if normaliser <= 0:
        raise ValueError(f"normaliser must be > 0, got {normaliser}")
    if not 0 < negative_prob_floor < 1:
        raise ValueError(f"negative_prob_floor must be in (0, 1), got {negative_prob_floor}")
    weights = weights.to(logprobs.dtype)
    positive_w = weights.clamp(min=0)
    negative_w = weights.clamp(max=0)
    # clamp's gradient is zero below the bound: exactly "no gradient from tokens already below
    # the floor", and the loss stays bounded however far a negative token has been pushed.
    guarded = logprobs.clamp(min=math.log(negative_prob_floor))
    positive = -(positive_w * logprobs).sum() / normaliser
    negative = -(negative_w * guarded).sum() / normaliser
    return LossParts(total=positive + negative, positive=positive, negative=negative)
