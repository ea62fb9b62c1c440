"""The `tgi` engine: a Text Generation Inference server through huggingface_hub's
AsyncInferenceClient, with per-request LoRA adapters (`adapter_id`) and streaming.

The prompt is rendered here, with the base model's own tokenizer and chat template
(`a3t.inference.chat`), and sent to TGI's generate route as text. So the text the policy acted on
is byte for byte what the trainer renders, token counts are exact, and the prompt log-probs TGI
returns line up with our tokens, which is what action grounding needs. The tokenizer is loaded
from `tokenizer` (a local checkpoint directory or a cached hub id; "" = `model`).

Requests (POST <endpoint>/, TGI's compat route; JSON):

    generate (streamed):
      {"inputs": "<rendered chat>",
       "parameters": {"adapter_id": "<adapter name>",   # absent for the base model
                      "details": true, "do_sample": false, "max_new_tokens": 96,
                      "seed": 7, "stop": ["..."],         # when set
                      "temperature": 0.7, "top_p": 0.9},  # only when sampling (do_sample true)
       "stream": true}
      -> server-sent events `data:{"index", "token": {"id", "text", "logprob", "special"},
         "generated_text": null, "details": null}`; the last one carries "generated_text" and
         "details": {"finish_reason": "length" | "eos_token" | "stop_sequence",
         "generated_tokens", "input_length", "seed"}.

    score_continuations (one request per candidate, concurrently):
      {"inputs": "<rendered chat><prefix><candidate><|eot|>",
       "parameters": {"adapter_id": ..., "decoder_input_details": true, "details": true,
                      "max_new_tokens": 1},
       "stream": false}
      -> [{"generated_text", "details": {"prefill": [{"id", "text", "logprob"}], ...}}];
         the score is the mean prefill log-prob over the candidate's tokens and the end of turn.

Also GET <endpoint>/health (200 when ready) and GET <endpoint>/info (model_id, model_dtype,
max_total_tokens) while starting.

Adapters: TGI cannot load a LoRA at run time, so `load_adapter` checks the directory's manifest
and records the name; requests send the name as `adapter_id`, which TGI resolves among the
adapters it was launched with (`LORA_ADAPTERS=<name>=<path>,...`). A new round's adapter
therefore needs TGI restarted with it; the `openai` engine (vLLM) loads adapters at run time.
TGI answers an adapter id it does not know with the base model, silently (TGI issue 2505), so an
evaluation could measure the base model under the adapter's name. `load_adapter` therefore asks
TGI for the prefill log-probs of one probe prompt with the adapter and without: identical
numbers mean TGI is not applying it, and the load is refused. (A LoRA whose B matrices are still
zero, never trained, would be refused too; a3t never serves one.)
Episode KV caches are TGI's business (its prefix cache), so `episode_id` is ignored here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    HfHubHTTPError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)

from a3t.errors import A3tError, FailedPrecondition, InvalidArgument, Unavailable
from a3t.inference import chat
from a3t.inference.base import (
    ChatMessage,
    EngineInfo,
    Generation,
    GenerationParams,
)
from a3t.inference.models import resolve_checkpoint
from a3t.inference.remote import AdapterBook, canonical_model, status_error, wait_until
from a3t.trajectory import TokenUsage

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

_SERVER = "the TGI server"


@dataclass(frozen=True)
class TgiEngineConfig:
    endpoint: str  # TGI's base URL, e.g. "http://tgi:80"
    model: str  # the base model TGI serves; adapters must name it as their base_model
    tokenizer: str = ""  # checkpoint dir or cached hub id for the chat template; "" = model
    timeout_seconds: float = 300.0  # per HTTP request, and for the server to become ready


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer (with its chat template) of `name`; "smollm2" is the packaged default."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint(name))
    except OSError as exc:
        raise FailedPrecondition(
            f"tokenizer {name!r} could not be loaded ({exc}); set tokenizer to a local checkpoint "
            "directory of the model TGI serves"
        ) from exc
    if tokenizer.chat_template is None:
        raise FailedPrecondition(f"tokenizer {name!r} has no chat template; use an instruct model")
    return tokenizer


def _map_error(exc: Exception) -> A3tError:
    """huggingface_hub / httpx failures -> the project's exceptions."""
    if isinstance(exc, OverloadedError | InferenceTimeoutError | httpx2.TransportError):
        return Unavailable(f"{_SERVER} is unreachable or overloaded: {exc}")
    if isinstance(exc, ValidationError):
        return InvalidArgument(f"{_SERVER} rejected the request: {exc}")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return status_error(exc.response.status_code, str(exc), _SERVER)
    return A3tError(f"{_SERVER} failed: {type(exc).__name__}: {exc}")


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """TGI returns the stop sequence that ended the text; the Engine contract leaves it out."""
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(cuts)] if cuts else text


class TgiEngine:
    """Engine over a TGI server. Construct, `await start()` (waits for the server), use, close."""

    def __init__(self, config: TgiEngineConfig):
        self.config = config
        self.base_model = canonical_model(config.model)
        self.tokenizer = load_tokenizer(config.tokenizer or config.model)
        self._eot = self.tokenizer.eos_token or ""
        self._book = AdapterBook(config.model)
        self._dtype = ""
        self._max_context = 0

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncInferenceClient]:
        # One client per call: the client keeps every streamed response in its exit stack until
        # it is closed, so a long-lived client would grow by one entry per request.
        async with AsyncInferenceClient(
            self.config.endpoint, provider="hf-inference", timeout=self.config.timeout_seconds
        ) as client:
            yield client

    async def start(self) -> None:
        """Waits until TGI reports healthy, then reads its /info."""

        async def probe() -> None:
            try:
                async with self._client() as client:
                    healthy = await client.health_check()
            except (httpx2.TransportError, InferenceTimeoutError) as exc:
                raise Unavailable(f"{self.config.endpoint}: {exc}") from exc
            if not healthy:
                raise Unavailable(f"{self.config.endpoint}/health is not 200 yet")

        await wait_until(probe, self.config.timeout_seconds, f"TGI at {self.config.endpoint}")
        try:
            async with self._client() as client:
                info = await client.get_endpoint_info()
        except (httpx2.HTTPError, HfHubHTTPError) as exc:
            raise _map_error(exc) from exc
        served = str(info.get("model_id", ""))
        if served and canonical_model(served) != self.base_model:
            log.warning("TGI serves %r, configured model is %r", served, self.config.model)
        self._dtype = str(info.get("model_dtype", "")).removeprefix("torch.")
        self._max_context = int(info.get("max_total_tokens") or 0)
        log.info("TGI at %s serves %s (%s)", self.config.endpoint, served, self._dtype)

    # --- Engine protocol

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        episode_id: str | None = None,
        adapter: str | None = None,
    ) -> Generation:
        if not messages:
            raise InvalidArgument("messages must not be empty; send at least one user message")
        adapter_id = self._book.resolve(adapter) or None
        prompt = chat.render_text(self.tokenizer, messages, add_generation_prompt=True)
        sampling: dict[str, Any] = {"do_sample": params.temperature > 0}
        if params.temperature > 0:  # TGI refuses temperature 0; greedy is do_sample false
            sampling["temperature"] = params.temperature
            if params.top_p < 1:  # TGI requires top_p < 1 when it is set
                sampling["top_p"] = params.top_p
        pieces: list[str] = []
        final_text: str | None = None
        details = None
        try:
            async with self._client() as client:
                stream = await client.text_generation(
                    prompt,
                    stream=True,
                    details=True,
                    adapter_id=adapter_id,
                    max_new_tokens=params.max_new_tokens,
                    seed=params.seed,
                    stop=list(params.stop) or None,
                    **sampling,
                )
                async for event in stream:
                    if not event.token.special:
                        pieces.append(event.token.text)
                    if event.generated_text is not None:
                        final_text = event.generated_text
                    if event.details is not None:
                        details = event.details
        except (httpx2.HTTPError, HfHubHTTPError, TextGenerationError) as exc:
            raise _map_error(exc) from exc
        text = final_text if final_text is not None else "".join(pieces)
        text = _cut_at_stop(text, params.stop)
        if details is None:
            raise A3tError(f"{_SERVER} ended the stream without details; is it really TGI?")
        prompt_tokens = details.input_length or len(chat.encode_text(self.tokenizer, prompt))
        usage = TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=details.generated_tokens)
        finish = "length" if details.finish_reason == "length" else "stop"
        return Generation(text=text, usage=usage, finish_reason=finish)

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str | None = None,
        episode_id: str | None = None,  # ignored: TGI's prefix cache reuses the prompt
    ) -> list[float]:
        if not candidates:
            return []
        adapter_id = self._book.resolve(adapter) or None
        head_text = chat.render_text(self.tokenizer, messages, add_generation_prompt=True) + prefix
        head = chat.encode_text(self.tokenizer, head_text)
        texts = [head_text + c + self._eot for c in candidates]
        fulls = [chat.encode_text(self.tokenizer, t) for t in texts]
        # Tokens may merge across the prefix/candidate boundary: score from the first position
        # where any candidate departs from the head (the same rule as the local engine).
        shared = min(min(_common_prefix(head, f) for f in fulls), len(head) - 1)
        if shared < 1:
            raise InvalidArgument("the prompt must not be empty")

        async def one(client: AsyncInferenceClient, text: str, ids: list[int]) -> float:
            prefill = await _prefill(client, text, adapter_id)
            offset = len(prefill) - len(ids)  # > 0 when TGI added a BOS token of its own
            if offset < 0 or [p.id for p in prefill[offset:]] != ids:
                raise FailedPrecondition(
                    f"{_SERVER} tokenizes the prompt differently from tokenizer "
                    f"{self.config.tokenizer or self.config.model!r}; set tokenizer to the "
                    "checkpoint TGI serves"
                )
            logprobs = [p.logprob for p in prefill[offset + shared :]]
            return sum(logprobs) / len(logprobs)

        try:
            async with self._client() as client:
                return list(
                    await asyncio.gather(
                        *(one(client, t, ids) for t, ids in zip(texts, fulls, strict=True))
                    )
                )
        except (httpx2.HTTPError, HfHubHTTPError, TextGenerationError) as exc:
            raise _map_error(exc) from exc

    async def load_adapter(self, name: str, path: str, activate: bool = False) -> EngineInfo:
        info = self._book.check(name, path)
        await self._check_served(name)
        self._book.add(info, activate)
        log.info("adapter %s (%s): TGI serves it", name, path)
        return self.info()

    async def _check_served(self, name: str) -> None:
        """FailedPrecondition unless TGI's answers with adapter_id=name differ from the base
        model's (prefill log-probs of a probe prompt)."""

        async def prefill(client: AsyncInferenceClient, adapter_id: str | None) -> list[float]:
            found = await _prefill(client, _PROBE, adapter_id)
            return [p.logprob for p in found if p.logprob is not None]

        try:
            async with self._client() as client:
                with_adapter, base = await asyncio.gather(
                    prefill(client, name), prefill(client, None)
                )
        except (httpx2.HTTPError, HfHubHTTPError, TextGenerationError) as exc:
            raise _map_error(exc) from exc
        if not with_adapter or all(
            abs(a - b) < 1e-6 for a, b in zip(with_adapter, base, strict=True)
        ):
            raise FailedPrecondition(
                f"{_SERVER} at {self.config.endpoint} does not serve adapter {name!r}: its "
                "answers with that adapter_id equal the base model's (TGI falls back to the base "
                f"model for an adapter it was not launched with). Launch TGI with "
                f"LORA_ADAPTERS={name}=<the adapter directory>, then load it again"
            )

    async def unload_adapter(self, name: str) -> EngineInfo:
        self._book.remove(name)
        return self.info()

    def end_episode(self, episode_id: str) -> bool:
        return False  # nothing is cached per episode on this side

    def info(self) -> EngineInfo:
        return EngineInfo(
            base_model=self.config.model,
            engine="tgi",
            device="",
            dtype=self._dtype,
            adapters=self._book.adapters,
            active_adapter=self._book.active,
            max_context_tokens=self._max_context,
        )

    async def close(self) -> None:
        return None  # clients are per call; nothing stays open


async def _prefill(client: AsyncInferenceClient, text: str, adapter_id: str | None) -> list:
    """TGI's prefill tokens of `text` (id, text, log-prob; the first log-prob is None)."""
    out = await client.text_generation(
        text,
        stream=False,
        details=True,
        decoder_input_details=True,
        max_new_tokens=1,
        adapter_id=adapter_id,
    )
    return out.details.prefill if out.details is not None else []


# A fixed prompt whose prefill log-probs tell whether TGI applies an adapter.
_PROBE = "You are an agent in a household. Your task is to: put a clean mug on the shelf."


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
