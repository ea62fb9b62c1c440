"""The training recipe: weighted trajectories -> a (Q)LoRA adapter directory with a manifest.

Reads top to bottom (torchtune / nanochat style): data, model, optimizer, resume, the loop with
an epoch checkpoint after each epoch, then the final adapter (optionally the average of the last
epochs) written to a staging directory, its manifest.json last, and renamed into place. Plain
values in (`TrainSpec`, `TrainerSettings`) and out (`TrainResult`); the run registry
(`a3t_trainer.runs`) calls `train` in a worker thread and passes `should_stop` (checked between
steps) and `on_progress`.

A run that dies is resumed by calling `train` again with the same `work_dir`: it continues from
the last completed epoch checkpoint. The data order of epoch e depends only on (seed, e), so a
resumed run takes the same steps an uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from a3t.artifacts import MANIFEST, file_sha256, local_path, write_manifest, writing
from a3t.compose import read_dataset
from a3t.errors import FailedPrecondition
from a3t.inference.models import load_model
from a3t_trainer.config import TrainerSettings
from a3t_trainer.data import Example, Pack, build_examples, make_pack, plan_epoch
from a3t_trainer.loss import policy_gradient_loss, token_logprobs

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
CHECKPOINT_STATE = "state.json"  # written last: a checkpoint without it is incomplete
TOKENS_PER_SECOND_WINDOW = 20  # steps


@dataclass(frozen=True)
class TrainSpec:
    """What one run trains, every default already resolved (runs.resolve_spec)."""

    base_model: str
    dataset_uri: str
    output_uri: str
    adapter_name: str
    adapter_version: int
    init_adapter_uri: str
    epochs: int
    learning_rate: float
    lora_rank: int
    lora_alpha: int
    lora_target_modules: tuple[str, ...]
    quantize_4bit: bool
    include_observation_tokens: bool
    max_seq_tokens: int
    negative_prob_floor: float
    average_last_epochs: int
    seed: int
    round: int
    system_prompt: str = ""


@dataclass(frozen=True)
class Progress:
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    loss: float = 0.0
    loss_positive: float = 0.0
    loss_negative: float = 0.0
    tokens_per_second: float = 0.0
    eta_seconds: float = 0.0
    step_tokens: int = 0  # tokens in the last step (for the tokens counter; not in the proto)


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    manifest: dict[str, Any]


class Cancelled(Exception):
    """Raised out of `train` when `should_stop` turned true; nothing was written to the output."""


def resolve_device(setting: str) -> str:
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise FailedPrecondition("device=cuda but torch sees no CUDA device; use device=cpu")
    return setting


def warm_up() -> None:
    """Imports what a run needs (seconds of work) so the first run starts training at once."""
    import peft  # noqa: F401
    import transformers  # noqa: F401

    if torch.cuda.is_available():
        import bitsandbytes  # noqa: F401


# --- model helpers


def disable_cpu_4bit_repacking(model: torch.nn.Module) -> int:
    """The NOTES.md workaround for bitsandbytes 0.50 on the CPU, plus float32 compute.

    An eval-mode no-grad forward through a `Linear4bit` repacks its weight in place (the
    avx512_bf16 path), after which training silently gets gradients ~30x too small; turning the
    path off on every Linear4bit before any forward avoids it. load_model computes in bfloat16;
    on the CPU float32 compute costs little and makes the 4-bit gradients those of an fp32 model
    holding the dequantised weights (tests/unit/trainer/test_qlora_cpu.py). Returns the count.
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
        layer.compute_dtype = torch.float32
    return len(layers)


def load_base(
    spec: TrainSpec, device: str, gradient_checkpointing: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The frozen base model (NF4 when spec.quantize_4bit) and its tokenizer, ready for LoRA."""
    from peft import prepare_model_for_kbit_training

    # bfloat16 weights on the GPU (QLoRA's compute dtype); float32 on the CPU, where bf16 matmuls
    # are slow and inexact.
    dtype = "bfloat16" if device == "cuda" else "float32"
    model, tokenizer = load_model(
        spec.base_model, device=device, dtype=dtype, quantize_4bit=spec.quantize_4bit
    )
    if spec.quantize_4bit:
        if device == "cpu":
            disable_cpu_4bit_repacking(model)
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing
        )
    else:
        model.requires_grad_(False)
        if gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
    model.config.use_cache = False
    return model, tokenizer


def attach_lora(model: PreTrainedModel, spec: TrainSpec, resume_from: Path | None) -> PeftModel:
    """A trainable LoRA on `model`: the checkpoint's when resuming, the init adapter's when
    continuing from the previous round, else fresh (seeded) with the spec's shape."""
    from peft import LoraConfig, PeftModel, get_peft_model

    start = resume_from or (local_path(spec.init_adapter_uri) if spec.init_adapter_uri else None)
    if start is not None:
        return PeftModel.from_pretrained(model, str(start), is_trainable=True)
    torch.manual_seed(spec.seed)
    config = LoraConfig(
        r=spec.lora_rank,
        lora_alpha=spec.lora_alpha,
        target_modules=list(spec.lora_target_modules),
        lora_dropout=0.0,  # keeps a resumed run identical to an uninterrupted one
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # peft: "Target modules {...} not found in the base model"
        raise FailedPrecondition(
            f"lora_target_modules {list(spec.lora_target_modules)}: {exc}"
        ) from exc


def make_optimizer(
    params: Sequence[torch.nn.Parameter], lr: float, device: str
) -> torch.optim.Optimizer:
    """Paged AdamW 32-bit on CUDA (the paper's), torch AdamW on the CPU (no paging there)."""
    if device == "cuda":
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW32bit(params, lr=lr, weight_decay=0.0)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)


def pack_logprobs(model: torch.nn.Module, pack: Pack, device: str) -> torch.Tensor:
    """log p of each loss token of a pack. Logits are computed at the loss positions only
    (`logits_to_keep`): the vocabulary projection over every position is most of the memory and
    a large share of the compute for a small model with a big vocabulary."""
    out = model(
        input_ids=pack.input_ids.to(device)[None],
        position_ids=pack.position_ids.to(device)[None],
        logits_to_keep=pack.target_positions.to(device),
        use_cache=False,
    )
    return token_logprobs(out.logits[0], pack.targets.to(device))


@torch.no_grad()
def score_examples(
    model: torch.nn.Module, examples: Sequence[Example], device: str = "cpu"
) -> list[float]:
    """Sum of log p over each example's loss tokens (one example per forward)."""
    scores = []
    for example in examples:
        pack = make_pack([example], (0,))
        scores.append(float(pack_logprobs(model, pack, device).sum()))
    return scores


# --- checkpoints


def _checkpoint_dir(work_dir: Path, epoch: int) -> Path:
    return work_dir / CHECKPOINTS / f"epoch-{epoch:04d}"


def last_checkpoint(work_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The latest complete epoch checkpoint and its state, or None."""
    root = work_dir / CHECKPOINTS
    if not root.is_dir():
        return None
    for directory in sorted(root.glob("epoch-*"), reverse=True):
        state = directory / CHECKPOINT_STATE
        if state.is_file():
            return directory, json.loads(state.read_text())
    return None


def save_checkpoint(
    work_dir: Path, epoch: int, model: PeftModel, optimizer: Any, state: dict[str, Any]
) -> Path:
    """Adapter + optimizer state of a finished epoch; state.json last, then renamed into place."""
    final = _checkpoint_dir(work_dir, epoch)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with writing(final.parent, f"the epoch {epoch} checkpoint"):
        try:
            tmp.mkdir(parents=True)
            model.save_pretrained(str(tmp))
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
            (tmp / CHECKPOINT_STATE).write_text(json.dumps(state, indent=2))
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # give the space back; resume needs none of it
            raise
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    return final


def average_adapters(directories: Sequence[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the LoRA tensors saved in `directories` (same shapes).

    A and B are averaged separately (weight averaging over the last epochs, as for full models),
    which is not the mean of the B·A products; the epochs are consecutive points of one run, so
    the two stay close.
    """
    from safetensors.torch import load_file

    total: dict[str, torch.Tensor] = {}
    for directory in directories:
        for name, tensor in load_file(str(directory / "adapter_model.safetensors")).items():
            total[name] = total.get(name, 0) + tensor.float()
    return {name: t / len(directories) for name, t in total.items()}


def _finished_output(output: Path, run_id: str) -> dict[str, Any] | None:
    """The manifest at `output` when this run already wrote it, else None."""
    try:
        manifest = json.loads((output / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return manifest if manifest.get("run_id") == run_id else None


# --- the recipe


def train(
    spec: TrainSpec,
    settings: TrainerSettings,
    work_dir: Path,
    *,
    run_id: str,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[Progress], None] = lambda p: None,
) -> TrainResult:
    """Trains one run to completion (resuming from work_dir's last checkpoint if there is one)."""
    from peft import LoraConfig

    # --- step 1: device, threads, where things go
    device = resolve_device(settings.device)
    if device == "cpu":
        torch.set_num_threads(settings.torch_threads)
    work_dir.mkdir(parents=True, exist_ok=True)
    output = local_path(spec.output_uri)
    done = _finished_output(output, run_id)
    if done is not None:  # the trainer died after the rename, before recording success
        return TrainResult(output, done)
    resume = last_checkpoint(work_dir)
    start_epoch = resume[1]["epoch"] + 1 if resume else 0
    log.info(
        "run %s: device %s, %s",
        run_id,
        device,
        f"resuming after epoch {start_epoch - 1}" if resume else "fresh",
    )

    # --- step 2: data: weighted trajectories -> chat tokens + loss masks -> the steps of each epoch
    dataset_path = local_path(spec.dataset_uri)
    data_hash = "sha256:" + file_sha256(dataset_path)
    if resume and resume[1]["data_hash"] != data_hash:
        raise FailedPrecondition(
            f"dataset_uri {spec.dataset_uri} changed since this run started ({data_hash}, was "
            f"{resume[1]['data_hash']}); a resumed run must train on the same data: start a new run"
        )
    items = read_dataset(dataset_path)
    base, tokenizer = load_base(spec, device, settings.gradient_checkpointing)
    examples = build_examples(
        tokenizer,
        items,
        system_prompt=spec.system_prompt,
        include_observations=spec.include_observation_tokens,
        max_tokens=spec.max_seq_tokens,
    )
    if not examples:
        raise FailedPrecondition(
            f"dataset {spec.dataset_uri}: no trajectory has a non-zero weight and agent tokens"
        )
    pack = settings.packing == "on" or (settings.packing == "auto" and device == "cuda")
    plans = [
        plan_epoch(
            examples,
            seed=spec.seed,
            epoch=epoch,
            tokens_per_step=settings.tokens_per_step,
            max_tokens=spec.max_seq_tokens,
            pack=pack,
        )
        for epoch in range(spec.epochs)
    ]
    total_steps = sum(len(plan) for plan in plans)
    loss_tokens = sum(e.loss_tokens for e in examples)
    log.info(
        "run %s: %d examples (%d positive, %d negative), %d loss tokens, %d steps, packing %s",
        run_id,
        len(examples),
        sum(e.weight > 0 for e in examples),
        sum(e.weight < 0 for e in examples),
        loss_tokens,
        total_steps,
        "on" if pack else "off",
    )

    # --- step 3: LoRA on the frozen base (fresh, continued from the previous round, or resumed)
    model = attach_lora(base, spec, resume[0] if resume else None)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    # --- step 4: optimizer (and its state when resuming)
    optimizer = make_optimizer(params, spec.learning_rate, device)
    history: list[dict[str, float]] = []
    resumed_from: list[int] = []
    tokens_trained, train_seconds = 0, 0.0
    if resume:
        optimizer.load_state_dict(torch.load(resume[0] / "optimizer.pt", map_location=device))
        history = resume[1]["history"]
        resumed_from = [*resume[1].get("resumed_from", []), start_epoch - 1]
        tokens_trained, train_seconds = resume[1]["tokens_trained"], resume[1]["train_seconds"]

    # --- step 5: the loop
    step = sum(len(plan) for plan in plans[:start_epoch])
    window: deque[tuple[float, int]] = deque(maxlen=TOKENS_PER_SECOND_WINDOW)
    for epoch in range(start_epoch, spec.epochs):
        # The global normaliser: loss tokens per optimizer step, averaged over the epoch.
        normaliser = loss_tokens / len(plans[epoch])
        sums = {"loss": 0.0, "loss_positive": 0.0, "loss_negative": 0.0}
        for rows in plans[epoch]:
            if should_stop():
                raise Cancelled(f"run {run_id} cancelled at step {step}")
            started = time.perf_counter()
            tokens = 0
            positive = negative = 0.0
            for row in rows:
                packed = make_pack(examples, row)
                tokens += packed.tokens
                logprobs = pack_logprobs(model, packed, device)
                parts = policy_gradient_loss(
                    logprobs,
                    packed.target_weights.to(device),
                    normaliser,
                    spec.negative_prob_floor,
                )
                parts.total.backward()
                positive += parts.positive.item()
                negative += parts.negative.item()
            if settings.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            seconds = time.perf_counter() - started
            tokens_trained += tokens
            train_seconds += seconds
            window.append((seconds, tokens))
            window_seconds = sum(s for s, _ in window)
            sums["loss"] += positive + negative
            sums["loss_positive"] += positive
            sums["loss_negative"] += negative
            on_progress(
                Progress(
                    step=step,
                    total_steps=total_steps,
                    epoch=epoch,
                    loss=positive + negative,
                    loss_positive=positive,
                    loss_negative=negative,
                    tokens_per_second=sum(t for _, t in window) / max(window_seconds, 1e-9),
                    eta_seconds=(total_steps - step) * window_seconds / len(window),
                    step_tokens=tokens,
                )
            )

        # --- step 6: epoch checkpoint (what a restarted trainer resumes from)
        history.append({k: v / len(plans[epoch]) for k, v in sums.items()})
        log.info(
            "run %s: epoch %d/%d, loss %.4f (positive %.4f, negative %.4f)",
            run_id,
            epoch + 1,
            spec.epochs,
            history[-1]["loss"],
            history[-1]["loss_positive"],
            history[-1]["loss_negative"],
        )
        save_checkpoint(
            work_dir,
            epoch,
            model,
            optimizer,
            {
                "epoch": epoch,
                "step": step,
                "data_hash": data_hash,
                "history": history,
                "resumed_from": resumed_from,
                "tokens_trained": tokens_trained,
                "train_seconds": train_seconds,
            },
        )

    # --- step 7: the final adapter: the last epoch's, or the mean of the last N
    averaged = min(spec.average_last_epochs, spec.epochs)
    if averaged > 1:
        from peft import set_peft_model_state_dict

        last = [_checkpoint_dir(work_dir, e) for e in range(spec.epochs - averaged, spec.epochs)]
        set_peft_model_state_dict(model, average_adapters(last))

    # --- step 8: write to a staging directory, manifest.json last, rename into place
    # A full or read-only output directory fails the run with a storage error naming it; the
    # registry removes the staging directory, so no half-written adapter is left to be read.
    staging = output.parent / f".{output.name}.partial-{run_id}"
    shutil.rmtree(staging, ignore_errors=True)
    with writing(output.parent, "the adapter"):
        try:
            staging.mkdir(parents=True)
            model.save_pretrained(str(staging))
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    lora = model.peft_config["default"]
    assert isinstance(lora, LoraConfig)  # attach_lora's, or the resumed checkpoint's
    # A list of module names (peft keeps it as a set), never a regex: attach_lora sets a list.
    assert lora.target_modules is not None and not isinstance(lora.target_modules, str)
    manifest = {
        "name": spec.adapter_name,
        "version": spec.adapter_version,
        "base_model": spec.base_model,
        "round": spec.round,
        "run_id": run_id,
        "dataset_uri": spec.dataset_uri,
        "data_hash": data_hash,
        "epochs": spec.epochs,
        "init_adapter_uri": spec.init_adapter_uri,
        "spec": {**asdict(spec), "lora_target_modules": list(spec.lora_target_modules)},
        "lora": {
            "r": lora.r,
            "alpha": lora.lora_alpha,
            "target_modules": sorted(lora.target_modules),
        },
        "averaged_epochs": max(averaged, 1),
        "resumed_from_epochs": resumed_from,
        "created_time_seconds": time.time(),
        "metrics": {
            "examples": len(examples),
            "positive_examples": sum(e.weight > 0 for e in examples),
            "negative_examples": sum(e.weight < 0 for e in examples),
            "truncated_examples": sum(e.dropped_steps > 0 for e in examples),
            "loss_tokens_per_epoch": loss_tokens,
            "steps": step,
            "tokens_trained": tokens_trained,
            "train_seconds": train_seconds,
            "tokens_per_second": tokens_trained / max(train_seconds, 1e-9),
            **history[-1],
            "epoch_history": history,
        },
    }
    write_manifest(staging, manifest)
    if output.exists():
        if any(output.iterdir()):
            raise FailedPrecondition(
                f"output_uri {spec.output_uri} was filled by someone else while training; the "
                f"adapter is left in {staging}"
            )
        output.rmdir()
    with writing(output.parent, "the adapter"):
        os.replace(staging, output)
    log.info("run %s: adapter written to %s", run_id, output)
    return TrainResult(output, manifest)
