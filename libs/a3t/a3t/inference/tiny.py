"""A tiny random Llama and a tokenizer trained on the spot: the model every service test uses.

Built offline in ~0.1 s: a byte-level BPE tokenizer trained over a small ALFWorld-like corpus
(so any text encodes, and ALFWorld words are few tokens), wrapped as a PreTrainedTokenizerFast
with a ChatML template (the template SmolLM2 uses, less its default system prompt), and a
2-layer LlamaForCausalLM with grouped-query attention like SmolLM2's. Its weights are drawn with
a larger spread than usual so greedy decoding has clear winners: exactness tests (cache reuse,
batching) then compare token choices that float rounding cannot flip. It (almost) never ends a
turn by itself: generations run to max_new_tokens or a stop sequence.

    build_tiny_model(tmp_path / "tiny")  # -> the directory, loadable with load_model(path)
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_OBJECTS = ["apple", "mug", "cup", "knife", "spatula", "plate", "bowl", "pan", "egg", "lettuce"]
_RECEPTACLES = ["cabinet", "countertop", "drawer", "fridge", "microwave", "shelf", "sinkbasin"]


def _corpus() -> list[str]:
    lines = [
        "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a "
        "countertop 1, a drawer 2, a fridge 1, a microwave 1, a shelf 3, and a sinkbasin 1.",
        "Your task is to: put a clean mug in coffeemachine.",
        "Nothing happens. OK. You won! Interact with a household to solve a task.",
        "think: To solve the task, I need to find and take a mug, then clean it with sinkbasin.",
    ]
    for i, obj in enumerate(_OBJECTS):
        for j, rec in enumerate(_RECEPTACLES):
            n = (i + j) % 4 + 1
            lines += [
                f"go to {rec} {n}",
                f"take {obj} {n} from {rec} {n}",
                f"put {obj} {n} in/on {rec} {n}",
                f"open {rec} {n}",
                f"You arrive at {rec} {n}. On the {rec} {n}, you see a {obj} {n}.",
                f"You pick up the {obj} {n} from the {rec} {n}.",
                f"think: Now I find a {obj} ({n}). Next, I need to take it to the {rec}.",
            ]
    return lines


def build_tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer with ChatML special tokens and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
        # Without this the tokenizer returns token_type_ids, which Llama rejects (NOTES.md).
        model_input_names=["input_ids", "attention_mask"],
    )


def build_tiny_model(directory: str | Path, seed: int = 0, layers: int = 2) -> Path:
    """Writes a tiny random Llama checkpoint with its tokenizer to `directory` and returns it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.2,  # wide, so logits have clear maxima (see the module docstring)
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eot,
        pad_token_id=eot,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    # Zero output rows for the special tokens: their logits sit at 0 while others reach about
    # +-5, so greedy text runs to max_new_tokens instead of ending after a token or two.
    with torch.no_grad():
        for token in SPECIAL_TOKENS:
            model.lm_head.weight[tokenizer.convert_tokens_to_ids(token)] = 0.0
    model.generation_config.eos_token_id = eot
    model.generation_config.pad_token_id = eot
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
