"""The contrastive policy-gradient loss against a hand-computed example."""

import math

import pytest
import torch

from a3t_trainer.loss import policy_gradient_loss, token_logprobs


def test_loss_equals_the_formula_on_a_hand_computed_example():
    # Two positive tokens of a trajectory with w=+1, two negative ones of a trajectory with
    # w=-1/2, the last already below the 1e-3 floor; N = 2.
    probs = [0.5, 0.25, 0.1, 1e-4]
    logp = torch.tensor([math.log(p) for p in probs], dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([1.0, 1.0, -0.5, -0.5])
    parts = policy_gradient_loss(logp, weights, normaliser=2.0, negative_prob_floor=1e-3)

    positive = -(1.0 * math.log(0.5) + 1.0 * math.log(0.25)) / 2
    # The guarded token counts at the floor: -(w * log(max(p, floor))).
    negative = -(-0.5 * math.log(0.1) + -0.5 * math.log(1e-3)) / 2
    assert parts.positive.item() == pytest.approx(positive, rel=1e-12)
    assert parts.negative.item() == pytest.approx(negative, rel=1e-12)
    assert parts.total.item() == pytest.approx(positive + negative, rel=1e-12)
    assert positive == pytest.approx(1.0397208, rel=1e-6)
    assert negative == pytest.approx(-2.3025851, rel=1e-6)

    parts.total.backward()
    # d loss / d log p = -w / N, and nothing from the token below the floor.
    assert logp.grad.tolist() == pytest.approx([-0.5, -0.5, 0.25, 0.0])


def test_positive_tokens_are_never_clipped():
    logp = torch.tensor([math.log(1e-6)], requires_grad=True)
    parts = policy_gradient_loss(logp, torch.tensor([2.0]), 4.0, 1e-3)
    assert parts.total.item() == pytest.approx(-2.0 * math.log(1e-6) / 4, rel=1e-6)
    parts.total.backward()
    assert logp.grad.item() == pytest.approx(-0.5)


def test_token_logprobs_match_log_softmax():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    out = token_logprobs(logits, torch.tensor([0, 2]))
    expected = [2.0 - math.log(math.e**2 + 1 + math.e**-1), -math.log(3)]
    assert out.tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("normaliser", "floor"), [(0.0, 1e-3), (1.0, 0.0), (1.0, 1.0)])
def test_bad_arguments(normaliser, floor):
    with pytest.raises(ValueError):
        policy_gradient_loss(torch.zeros(1), torch.ones(1), normaliser, floor)
