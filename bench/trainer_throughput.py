"""Trainer throughput: training tokens/s of the a3t recipe next to a plain peft + transformers
Trainer SFT run on the same data, in the same process.

    .venv/bin/python bench/trainer_throughput.py                    # tiny + SmolLM2, 1 thread
    .venv/bin/python bench/trainer_throughput.py --models tiny --threads 2 --trajectories 64

Data: --trajectories synthetic ALFWorld-like trajectories (`a3t_trainer.toy.synthetic_items`, 2 to
--max-steps steps each, half with weight -1/2) rendered with the shared chat format; the loss
covers the agent tokens only. Every system trains LoRA r=16, alpha=32 on q_proj/v_proj, float32,
AdamW, lr 1e-4, --epochs epochs, on the CPU with --threads torch threads.

Systems:
- a3t: `a3t_trainer.train.train` as the service runs it on the CPU (one example per forward row,
  no padding, logits only at the loss positions, whole tasks per step).
- a3t packed: the same with packing on (examples laid end to end in rows of --max-seq-tokens,
  block-diagonal attention), the default on CUDA.
- a3t nf4: the 4-bit QLoRA path (bitsandbytes NF4 base, the NOTES.md CPU workaround).
- plain: `peft.get_peft_model` + `transformers.Trainer`, batches of --batch-size padded to their
  longest member (DataCollatorForSeq2Seq), labels -100 outside the agent tokens, full logits.

Training tokens are the sequences' real (non-padding) tokens; tokens/s divides them by the
training time (a3t: the recipe's own step timer; plain: Trainer's train_runtime), which leaves
out model loading and tokenisation for both. Results go to the log and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from a3t.compose import write_dataset
from a3t.inference.models import SMOLLM2, load_model, resolve_checkpoint
from a3t.inference.tiny import build_tiny_model
from a3t_trainer.config import TrainerSettings
from a3t_trainer.data import build_examples
from a3t_trainer.toy import synthetic_items
from a3t_trainer.train import TrainSpec, train

log = logging.getLogger("bench.trainer_throughput")


def a3t_run(spec: TrainSpec, work: Path, packing: str, threads: int) -> dict:
    settings = TrainerSettings(device="cpu", torch_threads=threads, packing=packing)
    result = train(spec, settings, work, run_id=f"bench-{packing}-{spec.quantize_4bit}")
    metrics = result.manifest["metrics"]
    return {
        "tokens": metrics["tokens_trained"],
        "seconds": metrics["train_seconds"],
        "tokens_per_second": metrics["tokens_per_second"],
        "final_loss": metrics["loss"],
    }


def plain_run(spec: TrainSpec, work: Path, batch_size: int) -> dict:
    """The baseline: what one would write with peft + transformers' Trainer, no a3t code."""
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from a3t.compose import read_dataset

    model, tokenizer = load_model(spec.base_model)
    model = get_peft_model(
        model,
        LoraConfig(
            r=spec.lora_rank,
            lora_alpha=spec.lora_alpha,
            target_modules=list(spec.lora_target_modules),
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
        ),
    )
    examples = build_examples(
        tokenizer, read_dataset(Path(spec.dataset_uri)), max_tokens=spec.max_seq_tokens
    )
    rows = [
        {
            "input_ids": list(e.input_ids),
            "attention_mask": [1] * len(e.input_ids),
            "labels": [t if m else -100 for t, m in zip(e.input_ids, e.loss_mask, strict=True)],
        }
        for e in examples
    ]
    args = TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=batch_size,
        num_train_epochs=spec.epochs,
        learning_rate=spec.learning_rate,
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=spec.seed,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100),
    )
    out = trainer.train()
    seconds = out.metrics["train_runtime"]
    tokens = sum(len(r["input_ids"]) for r in rows) * spec.epochs
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "final_loss": out.metrics["train_loss"],
    }


def bench_model(name: str, base: str, args: argparse.Namespace, root: Path) -> list[dict]:
    dataset = write_dataset(
        root / name / "data.jsonl",
        synthetic_items(args.trajectories, seed=args.seed, max_steps=args.max_steps),
    )
    spec = TrainSpec(
        base_model=base,
        dataset_uri=str(dataset),
        output_uri="",
        adapter_name="bench",
        adapter_version=1,
        init_adapter_uri="",
        epochs=args.epochs,
        learning_rate=1e-4,
        lora_rank=16,
        lora_alpha=32,
        lora_target_modules=("q_proj", "v_proj"),
        quantize_4bit=False,
        include_observation_tokens=False,
        max_seq_tokens=args.max_seq_tokens,
        negative_prob_floor=1e-3,
        average_last_epochs=0,
        seed=args.seed,
        round=0,
    )
    systems = {
        "a3t": lambda w: a3t_run(replace(spec, output_uri=str(w / "out")), w, "off", args.threads),
        "plain": lambda w: plain_run(spec, w, args.batch_size),
        "a3t packed": lambda w: a3t_run(
            replace(spec, output_uri=str(w / "out")), w, "on", args.threads
        ),
        "a3t nf4": lambda w: a3t_run(
            replace(spec, output_uri=str(w / "out"), quantize_4bit=True), w, "off", args.threads
        ),
    }
    results = []
    for system in args.systems.split(","):
        work = root / name / system.replace(" ", "-")
        log.info("%s / %s ...", name, system)
        started = time.perf_counter()
        result = systems[system](work)
        shutil.rmtree(work, ignore_errors=True)
        result |= {"model": name, "system": system, "wall_seconds": time.perf_counter() - started}
        log.info(
            "%s / %s: %d tokens in %.1f s = %.0f tokens/s (final loss %.3f)",
            name,
            system,
            result["tokens"],
            result["seconds"],
            result["tokens_per_second"],
            result["final_loss"],
        )
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny,smollm2", help="tiny and/or smollm2")
    parser.add_argument("--systems", default="a3t,plain,a3t packed,a3t nf4")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trajectories", type=int, default=24)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--max-seq-tokens", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4, help="plain Trainer batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/bench/trainer_throughput.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="a3t-bench-") as tmp:
        root = Path(tmp)
        bases = {"tiny": str(build_tiny_model(root / "tiny-model")), "smollm2": SMOLLM2}
        results = []
        for name in args.models.split(","):
            if name == "smollm2":
                resolve_checkpoint(SMOLLM2)  # converts the GGUF once, outside the timings
            results += bench_model(name, bases[name], args, root)
    report = {
        "command": "bench/trainer_throughput.py "
        + " ".join(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "out"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\n{report['command']}\n")
    print("| model | system | tokens | seconds | tokens/s |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['system']} | {r['tokens']} | {r['seconds']:.1f} "
            f"| {r['tokens_per_second']:.0f} |"
        )


if __name__ == "__main__":
    main()
