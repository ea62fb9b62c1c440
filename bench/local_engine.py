"""Local inference engine benchmark: ALFWorld-like episodes on SmolLM2, engine vs naive re-encode.

    .venv/bin/python bench/local_engine.py                      # SmolLM2, 1 thread, all parts
    .venv/bin/python bench/local_engine.py --threads 2 --variants float32,bfloat16

An episode is 30 policy steps over a realistic ReAct prompt: system prompt + a ~600-token 1-shot
exemplar, then per step the model's turn (greedy, at most --max-new-tokens) and a scripted
~60-token observation. Parts:

1. naive: what the policy would do without the engine: apply the chat template to the whole
   history and call HF `generate()` each step (re-encoding everything, DynamicCache).
2. engine: LocalEngine with the episode's KV cache, per --variants entry: a cold episode (fresh
   engine; its greedy texts are compared step by step with the naive float32 ones) and a warm
   one (the system prompt and exemplar already in the engine's prefix pool).
3. concurrency: --episodes episodes at once through one engine vs one warm episode alone;
   aggregate generated tokens/s.

Every part reports wall time per episode and generated tokens/s; results go to the log and, as
JSON, to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from a3t.inference.base import ChatMessage, GenerationParams
from a3t.inference.chat import encode_text, format_step, parse_step, react_messages, render_text
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.inference.models import SMOLLM2, load_model
from a3t.trajectory import Step, Task

logger = logging.getLogger("bench.local_engine")

SYSTEM = (
    "You are an agent in a household. Each turn, write one line `think: <reasoning>` and then one "
    "line with exactly one action. Actions: go to X, open X, close X, take X from Y, move X to Y, "
    "heat X with Y, cool X with Y, clean X with Y, use X, examine X, look, inventory."
)
OBJECTS = [
    "apple", "bowl", "bread", "butterknife", "cup", "dishsponge", "egg", "fork", "kettle",
    "knife", "ladle", "lettuce", "mug", "pan", "peppershaker", "plate", "pot", "potato",
    "saltshaker", "soapbottle", "spatula", "spoon", "tomato", "winebottle",
]  # fmt: skip
RECEPTACLES = [
    "cabinet", "coffeemachine", "countertop", "diningtable", "drawer", "fridge", "garbagecan",
    "microwave", "shelf", "sinkbasin", "stoveburner", "toaster",
]  # fmt: skip


def _room(rng: random.Random) -> str:
    places = [f"a {r} {rng.randint(1, 6)}" for r in rng.sample(RECEPTACLES, 10)]
    return (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
        f"around you, you see {', '.join(places[:-1])}, and {places[-1]}."
    )


def _observation(rng: random.Random) -> str:
    """An ALFWorld-style observation of about 60 tokens."""
    place = f"{rng.choice(RECEPTACLES)} {rng.randint(1, 6)}"
    things = [f"a {o} {rng.randint(1, 3)}" for o in rng.sample(OBJECTS, 7)]
    return (
        f"You arrive at {place}. The {place} is open. In it, you see "
        f"{', '.join(things[:-1])}, and {things[-1]}. Nothing else is here."
    )


def _exemplar() -> list[ChatMessage]:
    """A solved episode in the shared chat format, about 600 tokens."""
    rng = random.Random(1)
    turns = [
        ChatMessage("user", _room(rng) + "\nYour task is to: put a clean mug in coffeemachine.")
    ]
    plan = [
        ("I need a clean mug. A mug is likely in a cabinet or on a countertop.", "go to cabinet 1"),
        ("No mug here. I try the countertop.", "go to countertop 1"),
        ("I see a mug. I take it.", "take mug 1 from countertop 1"),
        ("Now I clean it with the sinkbasin.", "go to sinkbasin 1"),
        ("", "clean mug 1 with sinkbasin 1"),
        ("The mug is clean. I bring it to the coffeemachine.", "go to coffeemachine 1"),
        ("", "move mug 1 to coffeemachine 1"),
    ]
    for thought, action in plan:
        turns.append(ChatMessage("assistant", format_step(Step(action=action, thought=thought))))
        turns.append(ChatMessage("user", _observation(rng)))
    turns[-1] = ChatMessage("user", "You move the mug 1 to the coffeemachine 1. You won!")
    return turns


@dataclass
class EpisodeResult:
    seconds: float
    generated_tokens: int
    prompt_tokens: int
    encoded_tokens: int  # prompt tokens actually run through the model
    texts: list[str]


def _script(n: int, steps: int) -> tuple[Task, str, list[str]]:
    rng = random.Random(100 + n)
    task = Task(
        env="alfworld", task_id=f"bench-{n}", instruction="Your task is to: put a mug in fridge."
    )
    return task, _room(rng), [_observation(rng) for _ in range(steps)]


async def engine_episode(engine: LocalEngine, n: int, steps: int, max_new: int) -> EpisodeResult:
    task, first, observations = _script(n, steps)
    exemplar = _exemplar()
    history: list[Step] = []
    texts: list[str] = []
    generated = prompt = encoded = 0
    params = GenerationParams(max_new_tokens=max_new)
    start = time.perf_counter()
    for observation in observations:
        messages = react_messages(SYSTEM, exemplar, task, first, history)
        out = await engine.generate(messages, params, episode_id=f"bench-{n}")
        texts.append(out.text)
        generated += out.usage.completion_tokens
        prompt += out.usage.prompt_tokens
        encoded += out.usage.prompt_tokens - out.usage.cached_prompt_tokens
        thought, action = parse_step(out.text)
        history.append(Step(action=action, thought=thought, observation=observation))
    seconds = time.perf_counter() - start
    engine.end_episode(f"bench-{n}")
    return EpisodeResult(seconds, generated, prompt, encoded, texts)


def naive_episode(model, tokenizer, n: int, steps: int, max_new: int) -> EpisodeResult:
    """The policy without the engine: full chat template + HF generate() per step."""
    import torch

    task, first, observations = _script(n, steps)
    exemplar = _exemplar()
    history: list[Step] = []
    texts: list[str] = []
    generated = prompt = 0
    start = time.perf_counter()
    for observation in observations:
        messages = react_messages(SYSTEM, exemplar, task, first, history)
        ids = encode_text(tokenizer, render_text(tokenizer, messages, add_generation_prompt=True))
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0, len(ids) :].tolist()
        generated += len(new)
        prompt += len(ids)
        text = tokenizer.decode(new, skip_special_tokens=True)
        texts.append(text)
        thought, action = parse_step(text)
        history.append(Step(action=action, thought=thought, observation=observation))
    return EpisodeResult(time.perf_counter() - start, generated, prompt, prompt, texts)


def _summary(name: str, r: EpisodeResult) -> dict[str, float | int | str]:
    row = {
        "part": name,
        "seconds_per_episode": round(r.seconds, 2),
        "generated_tokens": r.generated_tokens,
        "generated_tokens_per_second": round(r.generated_tokens / r.seconds, 2),
        "prompt_tokens": r.prompt_tokens,
        "encoded_prompt_tokens": r.encoded_tokens,
    }
    return row


def _config(args: argparse.Namespace, variant: str) -> LocalEngineConfig:
    dtype, _, extra = variant.partition("+")
    return LocalEngineConfig(model=args.model, dtype=dtype, lowbit_decode=extra == "lowbit")


async def run(args: argparse.Namespace) -> list[dict]:
    import torch

    torch.set_num_threads(args.threads)
    rows: list[dict] = []
    naive: dict | None = None
    naive_texts: list[str] = []
    if args.naive:
        model, tokenizer = load_model(args.model, dtype="float32")
        tokens = len(encode_text(tokenizer, render_text(tokenizer, _exemplar())))
        logger.info("exemplar: %d tokens; threads: %d", tokens, args.threads)
        result = naive_episode(model, tokenizer, 0, args.steps, args.max_new_tokens)
        naive_texts = result.texts
        naive = _summary("naive-generate-float32", result)
        logger.info("%s", json.dumps(naive))
        rows.append(naive)
        del model
    for variant in args.variants.split(","):
        engine = LocalEngine(_config(args, variant))
        try:
            # Cold: a fresh engine. Warm: the next episode, with the system prompt and exemplar
            # in the prefix pool (the steady state of a policy playing many episodes).
            for phase, n in (("cold", 0), ("warm", 1)):
                result = await engine_episode(engine, n, args.steps, args.max_new_tokens)
                row = _summary(f"engine-{variant}-{phase}", result)
                if naive is not None:
                    row["speedup_vs_naive"] = round(
                        naive["seconds_per_episode"] / result.seconds, 2
                    )
                    if n == 0:
                        same = sum(a == b for a, b in zip(result.texts, naive_texts, strict=True))
                        row["steps_equal_to_naive"] = f"{same}/{args.steps}"
                logger.info("%s", json.dumps(row))
                rows.append(row)
            one = result.generated_tokens / result.seconds  # warm single episode
            if args.episodes > 1 and variant == args.concurrency_variant:
                start = time.perf_counter()
                many = await asyncio.gather(
                    *(
                        engine_episode(engine, 10 + n, args.steps, args.max_new_tokens)
                        for n in range(args.episodes)
                    )
                )
                seconds = time.perf_counter() - start
                total = sum(r.generated_tokens for r in many)
                row = {
                    "part": f"engine-{variant}-{args.episodes}-concurrent",
                    "seconds_all_episodes": round(seconds, 2),
                    "generated_tokens": total,
                    "aggregate_generated_tokens_per_second": round(total / seconds, 2),
                    "vs_one_warm_episode": round(total / seconds / one, 2),
                    "encoded_prompt_tokens": sum(r.encoded_tokens for r in many),
                    "peak_batch": engine.stats["peak_batch"],
                }
                logger.info("%s", json.dumps(row))
                rows.append(row)
        finally:
            await engine.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=SMOLLM2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variants",
        default="float32,float32+lowbit",
        help="engine configs: a dtype, +lowbit for int4/int8 decode weights",
    )
    parser.add_argument("--episodes", type=int, default=8, help="concurrent episodes (1 = skip)")
    parser.add_argument("--concurrency-variant", default="float32+lowbit")
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    parser.add_argument("--out", type=Path, default=Path("var/bench/local_engine.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_before = os.getloadavg()
    rows = asyncio.run(run(args))
    # Other jobs share these cores: the load average says how much the timings can be trusted.
    load = {"load_average_before": load_before, "load_average_after": os.getloadavg()}
    logger.info("%s", json.dumps(load))
    rows.append(load)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
