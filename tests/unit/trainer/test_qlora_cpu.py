"""The CPU 4-bit (QLoRA) path gives the gradients of an fp32 model that holds the same weights.

Guards the NOTES.md workaround: with bitsandbytes 0.50 an eval-mode no-grad forward through a
Linear4bit repacks its weight in place, after which training gets wrong gradients. The trainer
turns that path off in `load_base`; this test does the eval forward first and still expects
fp32 gradients.
"""

import bitsandbytes as bnb
import torch
from transformers import AutoModelForCausalLM

from a3t_trainer.data import build_examples, pack_examples
from a3t_trainer.loss import policy_gradient_loss
from a3t_trainer.toy import toy_items
from a3t_trainer.train import TrainSpec, attach_lora, load_base, pack_logprobs


def _spec(tiny_model, quantize: bool) -> TrainSpec:
    return TrainSpec(
        base_model=str(tiny_model),
        dataset_uri="",
        output_uri="",
        adapter_name="t",
        adapter_version=1,
        init_adapter_uri="",
        epochs=1,
        learning_rate=1e-3,
        lora_rank=16,
        lora_alpha=32,
        lora_target_modules=("q_proj", "v_proj"),
        quantize_4bit=quantize,
        include_observation_tokens=False,
        max_seq_tokens=2048,
        negative_prob_floor=1e-3,
        average_last_epochs=0,
        seed=0,
        round=0,
    )


def _gradients(model, pack) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    logprobs = pack_logprobs(model, pack, "cpu")
    policy_gradient_loss(logprobs, pack.target_weights, 50.0, 1e-3).total.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_4bit_lora_gradients_match_an_fp32_reference_after_an_eval_forward(
    tiny_model, tiny_tokenizer
):
    quantized, _ = load_base(_spec(tiny_model, True), "cpu")
    layers = {n: m for n, m in quantized.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert len(layers) == 14 and all(m.weight.dtype == torch.uint8 for m in layers.values())

    # The reference: fp32 linears holding the dequantised NF4 weights, taken before any forward.
    reference = AutoModelForCausalLM.from_pretrained(tiny_model)
    for name, layer in layers.items():
        weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
        reference.get_submodule(name).weight.data.copy_(weight.float())
    reference.requires_grad_(False)

    peft_4bit = attach_lora(quantized, _spec(tiny_model, True), None)
    peft_ref = attach_lora(reference, _spec(tiny_model, False), None)
    generator = torch.Generator().manual_seed(0)
    ref_params = dict(peft_ref.named_parameters())
    for name, param in peft_4bit.named_parameters():
        if "lora_B" in name:  # B starts at zero; give it values so A gets a gradient too
            param.data.copy_(torch.randn(param.shape, generator=generator) * 0.1)
        if param.requires_grad:
            ref_params[name].data.copy_(param.data)

    (pack,) = pack_examples(build_examples(tiny_tokenizer, toy_items()), 2048)
    peft_4bit.eval()
    with torch.no_grad():  # the forward that, unguarded, corrupts later gradients
        pack_logprobs(peft_4bit, pack, "cpu")
    peft_4bit.train()
    peft_ref.train()

    got, want = _gradients(peft_4bit, pack), _gradients(peft_ref, pack)
    assert set(got) == set(want) and len(got) == 8
    for name in want:
        scale = want[name].abs().max()
        assert scale > 0, name
        assert (got[name] - want[name]).abs().max() <= 1e-3 * scale, name
