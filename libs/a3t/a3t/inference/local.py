"""The `local` engine: transformers + peft in this process, on CPU or CUDA.

What it does for the agents' workload (many short turns over long, growing prompts):

- **Episode KV caches.** Each episode's keys/values stay in memory between calls, keyed by
  `episode_id`. A call finds the longest common token prefix of its prompt with the cached
  tokens, keeps that much of the cache and encodes only the rest (the new observation). Dropped
  by `end_episode`, after `episode_ttl_seconds` idle, or least-recently-used first when the
  caches pass `cache_max_bytes`.
- **Continuous batching.** Requests go through a queue to one worker thread that owns the model,
  so the event loop never blocks. Every running request decodes in one batched forward per
  token; a new request joins the running batch at the next token after its own prefill. Rows
  keep their own caches (no padding, no copying into a shared buffer): the linear layers run
  on the batch, attention runs per row over that row's cache (`_ragged_attention`).
- **Prefix pool.** The head of each new episode's first prompt (system prompt + exemplar, up to
  1024 tokens) is kept, so the next episodes copy it instead of encoding it again. Calls
  without an episode id are never cached, pool included.
- **LoRA adapters** load, reload and unload at run time on top of the one base model (peft
  through transformers' adapter API). Requests for different adapters decode in one sub-batch
  per adapter.
- Greedy or temperature/top-p sampling with per-request seeds, stop sequences, token usage
  including how many prompt tokens came from the cache.

Decoding never calls `generate()`: the loop is one `model(...)` call per generated token per
sub-batch, and the KV buffers are preallocated so a step appends in place instead of
concatenating the whole cache (what DynamicCache does, O(context) per token). With
`lowbit_decode` the decode steps read int4/int8 weight copies (`a3t.inference.kernels`).

The model is the engine's own: its attention implementation is switched to `_ragged_attention`
(which falls back to sdpa for ordinary caches, so direct calls still work).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a3t.errors import (
    A3tError,
    ContextOverflow,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from a3t.inference import chat
from a3t.inference.base import (
    BASE_ADAPTER,
    AdapterInfo,
    ChatMessage,
    EngineInfo,
    Generation,
    GenerationParams,
    adapter_dir,
    read_adapter_manifest,
)
from a3t.inference.kernels import use_lowbit_decode
from a3t.inference.models import SMOLLM2, canonical_model_name, load_model
from a3t.trajectory import TokenUsage

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

_PREFILL_CHUNK = 512  # tokens per prefill forward: bounds the attention-score memory
_POOL_TOKENS = 1024  # a pooled prompt prefix holds at most this many tokens
_POOL_MIN_GAIN = 32  # copy a pooled prefix only when it saves encoding at least this many tokens


@dataclass(frozen=True)
class LocalEngineConfig:
    model: str = SMOLLM2  # SMOLLM2 (the packaged default), a checkpoint directory or a hub id
    device: str = "cpu"  # "cpu", "cuda", "cuda:0"
    dtype: str = "float32"  # "float32" | "bfloat16" | "float16" (compute dtype with 4-bit)
    quantize_4bit: bool = False  # NF4 weights through bitsandbytes (meant for CUDA)
    max_batch_size: int = 16  # rows decoded together; more requests wait their turn
    cache_max_bytes: int = 2 * 1024**3  # all episodes' KV caches together
    episode_ttl_seconds: float = 900.0  # an idle episode's cache is dropped after this
    threads: int = 0  # torch intra-op threads for the process; 0 = leave torch's setting
    # CPU only: decode steps read int4/int8 copies of the weights (a3t.inference.kernels);
    # prefill keeps the dense ones. ~2x faster decoding; outputs checked by the benchmark.
    lowbit_decode: bool = False
    # Recent prompt prefixes (system + exemplar...) kept to start new episodes from: a new
    # episode copies the longest matching one instead of encoding it again.
    prefix_pool_size: int = 4


# --- KV buffers -------------------------------------------------------------------------------


ATTENTION = "a3t_ragged"


def _ragged_attention(module, query, key, value, attention_mask, scaling=None, **kwargs):
    """Attention over per-row caches of different lengths (keys/values come as lists).

    Rows never share a padded buffer: each row attends to its own episode's cache, so batching
    copies no keys/values and wastes no compute on padding. A decode query (one token, no mask)
    folds its query heads onto the key/value heads (grouped-query attention without repeating
    the cache); a prefill chunk comes with an explicit [1, 1, q, kv] causal mask.
    """
    import torch
    import torch.nn.functional as F

    if isinstance(key, torch.Tensor):  # an ordinary cache (model used outside the engine)
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, **kwargs
        )
    outputs = []
    batch, heads, q_len, dim = query.shape
    for i in range(batch):
        k, v = key[i], value[i]
        if attention_mask is None:
            if q_len != 1:
                raise ValueError("a multi-token query needs an explicit causal mask")
            q = query[i : i + 1].view(1, k.shape[1], heads // k.shape[1], dim)
            out = F.scaled_dot_product_attention(q, k, v, scale=scaling)
            outputs.append(out.view(1, heads, 1, dim))
        else:
            outputs.append(
                F.scaled_dot_product_attention(
                    query[i : i + 1],
                    k,
                    v,
                    attn_mask=attention_mask[i : i + 1],
                    scale=scaling,
                    enable_gqa=True,
                )
            )
    out = outputs[0] if batch == 1 else torch.cat(outputs)
    return out.transpose(1, 2).contiguous(), None


def _cache_layer_classes() -> tuple[type, type]:
    """KV cache layers for transformers' Cache, built lazily (transformers imported on use).

    BufferLayer: one sequence's keys/values in a preallocated [1, heads, capacity, head_dim]
    buffer; `update` writes in place, so a decode step costs O(new tokens), not a copy of the
    whole cache (DynamicLayer concatenates). RaggedLayer: the rows of one forward, each writing
    into its own BufferLayer and handing the list of views to `_ragged_attention`.
    """
    from transformers import AttentionInterface
    from transformers.cache_utils import DynamicLayer
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, _ragged_attention)
    # sdpa's masks, so the model still works when called directly (tests, generate()); the
    # engine passes its own 4D masks, or none for a one-token decode query.
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)

    class BufferLayer(DynamicLayer):
        def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
            super().__init__()
            self.kbuf, self.vbuf, self.length = keys, values, length
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True
            self._refresh()

        def _refresh(self) -> None:
            self.keys = self.kbuf[:, :, : self.length]
            self.values = self.vbuf[:, :, : self.length]

        @property
        def capacity(self) -> int:
            return self.kbuf.shape[2]

        def reserve(self, capacity: int) -> None:
            if capacity <= self.capacity:
                return
            capacity = max(capacity, self.capacity + self.capacity // 2)  # amortised growth
            for name in ("kbuf", "vbuf"):
                old = getattr(self, name)
                new = old.new_zeros((*old.shape[:2], capacity, old.shape[3]))
                new[:, :, : self.length] = old[:, :, : self.length]
                setattr(self, name, new)
            self._refresh()

        def truncate(self, length: int) -> None:
            self.length = min(length, self.length)
            self._refresh()

        def update(self, key_states, value_states, *args, **kwargs):
            end = self.length + key_states.shape[-2]
            self.reserve(end)
            self.kbuf[:, :, self.length : end] = key_states
            self.vbuf[:, :, self.length : end] = value_states
            self.length = end
            self._refresh()
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return self.length + query_length, 0

        def nbytes(self) -> int:
            return self.kbuf.numel() * self.kbuf.element_size() * 2

    class RaggedLayer(DynamicLayer):
        def __init__(self, rows: list[BufferLayer]) -> None:
            super().__init__()
            self.rows = rows
            self.is_initialized = True

        def update(self, key_states, value_states, *args, **kwargs):
            pairs = [
                row.update(key_states[i : i + 1], value_states[i : i + 1])
                for i, row in enumerate(self.rows)
            ]
            return [k for k, _ in pairs], [v for _, v in pairs]

        def get_seq_length(self) -> int:
            return self.rows[0].length

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return self.rows[0].length + query_length, 0

    return BufferLayer, RaggedLayer


@dataclass
class _KV:
    """One sequence's KV cache: a BufferLayer per model layer."""

    layers: list[Any]

    @property
    def length(self) -> int:
        return self.layers[0].length

    def truncate(self, length: int) -> None:
        for layer in self.layers:
            layer.truncate(length)

    def copy_prefix(self, source: _KV, length: int) -> None:
        """Makes this cache hold the first `length` tokens of `source` (batch 1 both)."""
        self.truncate(0)
        self.reserve(length)
        for dst, src in zip(self.layers, source.layers, strict=True):
            dst.kbuf[:, :, :length] = src.kbuf[:, :, :length]
            dst.vbuf[:, :, :length] = src.vbuf[:, :, :length]
            dst.length = length
            dst._refresh()

    def reserve(self, capacity: int) -> None:
        for layer in self.layers:
            layer.reserve(capacity)

    def nbytes(self) -> int:
        return sum(layer.nbytes() for layer in self.layers)


@dataclass
class _Prefix:
    """A pooled prompt prefix: tokens and their keys/values, for starting new episodes."""

    ids: list[int]
    kv: _KV
    adapter_key: str


@dataclass
class _Episode:
    ids: list[int]  # tokens whose keys/values are in kv
    kv: _KV
    adapter_key: str  # adapter (and load serial) the cache was computed with
    last_used: float = 0.0


# --- requests and rows ------------------------------------------------------------------------


@dataclass
class _Job:
    kind: str  # "generate" | "score" | "call" | "stop"
    payload: Any
    future: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def resolve(self, result: Any = None, error: BaseException | None = None) -> None:
        if self.future is None or self.loop is None:
            return

        def _set(fut: asyncio.Future = self.future) -> None:
            if fut.done():  # the caller gave up (cancelled) meanwhile
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

        # A closed loop (RuntimeError) means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_set)


def _gave_up(job: _Job) -> bool:
    """The caller of a generate job stopped waiting (cancelled) before it finished."""
    return job.future is not None and job.future.done()


@dataclass
class _GenerateRequest:
    messages: Sequence[ChatMessage]
    params: GenerationParams
    episode_id: str | None
    adapter: str  # resolved: "" = the base model


@dataclass
class _Row:
    """A request being decoded."""

    job: _Job
    request: _GenerateRequest
    prompt_len: int
    cached: int
    max_new: int
    episode: _Episode  # its cache holds the prompt, then every token fed while decoding
    store: bool  # put the episode back into the cache store when done
    generator: torch.Generator | None
    generated: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = ""


@dataclass
class _Batch:
    """Rows of one adapter decoding together, one forward per token."""

    adapter_key: str
    rows: list[_Row]


# --- the engine -------------------------------------------------------------------------------


class LocalEngine:
    """The in-process engine. Construct (loads the model, ~0.1-1 s), use, then `await close()`."""

    def __init__(self, config: LocalEngineConfig | None = None) -> None:
        import torch

        self.config = config or LocalEngineConfig()
        if self.config.max_batch_size < 1:
            raise InvalidArgument(f"max_batch_size must be >= 1, got {self.config.max_batch_size}")
        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)
        self._torch = torch
        self.model, self.tokenizer = load_model(
            self.config.model,
            device=self.config.device,
            dtype=self.config.dtype,
            quantize_4bit=self.config.quantize_4bit,
        )
        self.device = next(self.model.parameters()).device
        self.base_model = canonical_model_name(self.config.model)
        if self.config.lowbit_decode:
            if self.device.type != "cpu" or self.config.quantize_4bit:
                raise InvalidArgument(
                    "lowbit_decode is for the CPU with unquantised weights; turn it off on "
                    f"{self.device} / with quantize_4bit"
                )
            use_lowbit_decode(self.model)
        self._buffer_cls, self._ragged_cls = _cache_layer_classes()
        self.model.set_attn_implementation(ATTENTION)
        text_config = self.model.config.get_text_config(decoder=True)
        self._n_layers = text_config.num_hidden_layers
        self._kv_heads = text_config.num_key_value_heads
        self._head_dim = getattr(text_config, "head_dim", None) or (
            text_config.hidden_size // text_config.num_attention_heads
        )
        # Keys/values come out in the hidden states' dtype, which is the embeddings' dtype (also
        # with 4-bit linears, which cast back to their input's dtype).
        self._kv_dtype = self.model.get_input_embeddings().weight.dtype
        self.max_context_tokens = int(text_config.max_position_embeddings)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        eos_ids.add(self.tokenizer.eos_token_id)
        self._eos = frozenset(int(i) for i in eos_ids if i is not None)
        self._eot_text = self.tokenizer.eos_token

        self._adapters: dict[str, AdapterInfo] = {}
        self._adapter_serial: dict[str, int] = {}
        self._serial = 0
        self._active = ""
        self._current_adapter: str | None = None  # what the model's LoRA layers are set to

        self._lock = threading.Lock()  # guards the episode store and in-flight bookkeeping
        self._episodes: OrderedDict[str, _Episode] = OrderedDict()  # LRU order
        self._in_flight: set[str] = set()
        self._ended: set[str] = set()
        self._prefixes: list[_Prefix] = []  # worker only; least recently used first
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._closed = False
        # Counters for metrics, benchmarks and tests; written by the worker only.
        self.stats = {
            "forwards": 0,
            "decode_steps": 0,
            "peak_batch": 0,
            "prefill_tokens": 0,
            "pooled_prefixes": 0,
            "score_cached_tokens": 0,  # prompt tokens scoring took from an episode's cache
        }
        self._worker = threading.Thread(target=self._work, name="a3t-local-engine", daemon=True)
        self._worker.start()
        logger.info(
            "local engine ready: model=%s device=%s dtype=%s layers=%d",
            self.config.model,
            self.device,
            self.info().dtype,
            self._n_layers,
        )

    # --- public API (event-loop side) ----------------------------------------------------------

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        episode_id: str | None = None,
        adapter: str | None = None,
    ) -> Generation:
        if not messages:
            raise InvalidArgument("messages must not be empty; send at least one user message")
        request = _GenerateRequest(
            list(messages), params, episode_id or None, self._resolve(adapter)
        )
        return await self._submit("generate", request)

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str | None = None,
        episode_id: str | None = None,
    ) -> list[float]:
        if not candidates:
            return []
        return await self._submit(
            "score",
            (list(messages), prefix, list(candidates), self._resolve(adapter), episode_id),
        )

    async def load_adapter(self, name: str, path: str, activate: bool = False) -> EngineInfo:
        if not name or name == BASE_ADAPTER:
            raise InvalidArgument(f"adapter name must be non-empty and not {BASE_ADAPTER!r}")
        manifest = read_adapter_manifest(path)
        if canonical_model_name(manifest.base_model) != self.base_model:
            raise FailedPrecondition(
                f"adapter {path} was trained on {manifest.base_model!r}, but this engine runs "
                f"{self.base_model!r}; load an adapter trained on this base model"
            )
        info = AdapterInfo(
            name=name, path=path, version=manifest.version, base_model=self.base_model
        )
        return await self._submit("call", lambda: self._do_load(info, activate))

    async def unload_adapter(self, name: str) -> EngineInfo:
        if name not in self._adapters:
            raise NotFound(f"adapter {name!r} is not loaded; loaded: {sorted(self._adapters)}")
        return await self._submit("call", lambda: self._do_unload(name))

    def end_episode(self, episode_id: str) -> bool:
        with self._lock:
            if self._episodes.pop(episode_id, None) is not None:
                return True
            if episode_id in self._in_flight:
                self._ended.add(episode_id)  # the worker drops it when the call finishes
                return True
        return False

    def info(self) -> EngineInfo:
        dtype = "nf4" if self.config.quantize_4bit else self.config.dtype
        return EngineInfo(
            base_model=self.base_model,
            engine="local",
            device=str(self.device),
            dtype=f"{dtype}+int4-decode" if self.config.lowbit_decode else dtype,
            adapters=tuple(self._adapters[n] for n in sorted(self._adapters)),
            active_adapter=self._active,
            max_context_tokens=self.max_context_tokens,
        )

    def cache_stats(self) -> dict[str, int]:
        """Episodes cached and their KV bytes (for metrics and tests)."""
        with self._lock:
            return {
                "episodes": len(self._episodes),
                "bytes": sum(e.kv.nbytes() for e in self._episodes.values()),
            }

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_Job("stop", None))
        await asyncio.to_thread(self._worker.join)

    # --- helpers (event-loop side) -------------------------------------------------------------

    def _resolve(self, adapter: str | None) -> str:
        if adapter is None:
            return self._active
        if adapter == BASE_ADAPTER:
            return ""
        if adapter not in self._adapters:
            raise NotFound(
                f"adapter {adapter!r} is not loaded; load it first or use one of "
                f"{[*sorted(self._adapters), BASE_ADAPTER]}"
            )
        return adapter

    async def _submit(self, kind: str, payload: Any) -> Any:
        if self._closed:
            raise Unavailable("the local engine is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put(_Job(kind, payload, future, loop))
        return await future

    # --- worker thread -------------------------------------------------------------------------

    def _work(self) -> None:
        torch = self._torch
        batches: dict[str, _Batch] = {}
        waiting: list[_Job] = []  # jobs taken off the queue, not started yet
        next_expiry = 0.0
        with torch.inference_mode():
            while True:
                running = sum(len(b.rows) for b in batches.values())
                # Block only when idle; while decoding, take whatever arrived since the last token.
                if not running and not waiting:
                    waiting.append(self._jobs.get())
                while True:
                    try:
                        waiting.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                if time.monotonic() >= next_expiry:  # once a second, not once a token
                    self._expire()
                    next_expiry = time.monotonic() + min(1.0, self.config.episode_ttl_seconds)
                joined: list[_Row] = []
                while waiting:
                    job = waiting[0]
                    if job.kind == "generate":
                        if running + len(joined) >= self.config.max_batch_size:
                            break
                        waiting.pop(0)
                        row = self._guard(job, self._start_row)
                        if row is not None:
                            joined.append(row)
                        continue
                    if job.kind == "score":  # one forward of its own; fine between tokens
                        waiting.pop(0)
                        self._guard(job, lambda j: j.resolve(self._score(*j.payload)))
                        continue
                    # Loading/unloading adapters and stopping change what running rows use: only
                    # between batches, in arrival order relative to the calls around them.
                    if running or joined:
                        break
                    waiting.pop(0)
                    if job.kind == "stop":
                        self._shutdown(waiting)
                        return
                    self._guard(job, lambda j: j.resolve(j.payload()))
                self._decode_round(batches, joined)

    def _guard(self, job: _Job, fn: Callable[[_Job], Any]) -> Any:
        """Runs fn(job); an error fails this job only, never the worker."""
        try:
            return fn(job)
        except A3tError as exc:
            job.resolve(error=exc)
        except Exception as exc:
            logger.exception("local engine job failed")
            job.resolve(error=exc)
        return None

    def _shutdown(self, waiting: list[_Job]) -> None:
        closed = Unavailable("the local engine is closed")
        for job in waiting:
            job.resolve(error=closed)
        while True:
            try:
                self._jobs.get_nowait().resolve(error=closed)
            except queue.Empty:
                return

    # --- adapters ------------------------------------------------------------------------------

    def _use_adapter(self, name: str) -> None:
        if name == self._current_adapter:
            return
        if not self._adapters:  # no LoRA layers injected: the model is the base
            self._current_adapter = ""
            return
        if name:
            self.model.enable_adapters()
            self.model.set_adapter(name)
        else:
            self.model.disable_adapters()
        self._current_adapter = name

    def _adapter_key(self, name: str) -> str:
        return f"{name}#{self._adapter_serial[name]}" if name else ""

    def _do_load(self, info: AdapterInfo, activate: bool) -> EngineInfo:
        if info.name in self._adapters:
            self.model.delete_adapter(info.name)
            del self._adapters[info.name]
        self.model.load_adapter(str(adapter_dir(info.path)), adapter_name=info.name, hotswap=False)
        self.model.eval()
        self._serial += 1
        self._adapter_serial[info.name] = self._serial  # invalidates caches made with the old one
        self._adapters[info.name] = info
        self._current_adapter = None  # loading may have changed which adapter is set
        if activate:
            self._active = info.name
        logger.info("loaded adapter %s v%d from %s", info.name, info.version, info.path)
        return self.info()

    def _do_unload(self, name: str) -> EngineInfo:
        if name not in self._adapters:
            raise NotFound(f"adapter {name!r} is not loaded; loaded: {sorted(self._adapters)}")
        self.model.delete_adapter(name)
        del self._adapters[name]
        self._current_adapter = None
        if self._active == name:
            self._active = ""
        logger.info("unloaded adapter %s", name)
        return self.info()

    # --- episode cache store -------------------------------------------------------------------

    def _new_kv(self, capacity: int) -> _KV:
        torch = self._torch
        shape = (1, self._kv_heads, max(capacity, 1), self._head_dim)
        layers = [
            self._buffer_cls(
                torch.zeros(shape, dtype=self._kv_dtype, device=self.device),
                torch.zeros(shape, dtype=self._kv_dtype, device=self.device),
                0,
            )
            for _ in range(self._n_layers)
        ]
        return _KV(layers)

    def _checkout(self, episode_id: str | None, adapter_key: str) -> tuple[_Episode, bool]:
        """The episode's cache (out of the store while in use) and whether to store it back."""
        if episode_id is not None:
            with self._lock:
                if episode_id not in self._in_flight:
                    self._in_flight.add(episode_id)
                    episode = self._episodes.pop(episode_id, None)
                    if episode is not None and episode.adapter_key == adapter_key:
                        return episode, True
                    return _Episode([], self._new_kv(0), adapter_key), True
        # No id, or the same episode already has a call running: work uncached.
        return _Episode([], self._new_kv(0), adapter_key), False

    def _checkin(self, row: _Row) -> None:
        self._checkin_episode(row.request.episode_id, row.episode, row.store)

    def _checkin_episode(self, episode_id: str | None, episode: _Episode, store: bool) -> None:
        if not store or episode_id is None:
            return
        with self._lock:
            self._in_flight.discard(episode_id)
            if episode_id in self._ended:
                self._ended.discard(episode_id)
                return
            episode.last_used = time.monotonic()
            self._episodes[episode_id] = episode
            self._episodes.move_to_end(episode_id)
            total = sum(e.kv.nbytes() for e in self._episodes.values())
            while total > self.config.cache_max_bytes and self._episodes:
                evicted_id, evicted = self._episodes.popitem(last=False)
                total -= evicted.kv.nbytes()
                logger.debug("evicted KV cache of episode %s (memory cap)", evicted_id)

    def _release(self, row: _Row) -> None:
        self._release_episode(row.request.episode_id, row.store)

    def _release_episode(self, episode_id: str | None, store: bool) -> None:
        """Gives up an episode checkout without storing (the call failed)."""
        if store and episode_id is not None:
            with self._lock:
                self._in_flight.discard(episode_id)
                self._ended.discard(episode_id)

    def _expire(self) -> None:
        deadline = time.monotonic() - self.config.episode_ttl_seconds
        with self._lock:
            for episode_id in [k for k, e in self._episodes.items() if e.last_used < deadline]:
                del self._episodes[episode_id]
                logger.debug("dropped KV cache of idle episode %s", episode_id)

    def _pooled_prefix(self, ids: list[int], adapter_key: str, reuse: int) -> _Prefix | None:
        """The pooled prefix sharing the most tokens with `ids`, if it beats `reuse` enough."""
        best, best_len = None, reuse + _POOL_MIN_GAIN
        for prefix in self._prefixes:
            n = _common_prefix(prefix.ids, ids)
            if prefix.adapter_key == adapter_key and n >= best_len:
                best, best_len = prefix, n
        if best is not None:
            self._prefixes.remove(best)
            self._prefixes.append(best)
        return best

    def _pool_prefix(self, ids: list[int], kv: _KV, adapter_key: str) -> None:
        """Keeps a copy of the first tokens of a freshly encoded prompt in the prefix pool."""
        if self.config.prefix_pool_size < 1:
            return
        n = min(len(ids), _POOL_TOKENS)
        for prefix in self._prefixes:
            if prefix.adapter_key == adapter_key and _common_prefix(prefix.ids, ids) == n:
                return  # already pooled (or a longer version of it)
        copy = self._new_kv(n)
        copy.copy_prefix(kv, n)
        self._prefixes.append(_Prefix(ids[:n], copy, adapter_key))
        del self._prefixes[: -self.config.prefix_pool_size]
        self.stats["pooled_prefixes"] = len(self._prefixes)

    # --- forward passes ------------------------------------------------------------------------

    def _forward(
        self,
        ids: torch.Tensor,
        kvs: list[_KV],
        positions: torch.Tensor,
        mask: torch.Tensor | None,
        logits_to_keep: int = 1,
    ) -> torch.Tensor:
        """One forward of len(kvs) rows, each row appending to (and attending to) its own cache."""
        from transformers.cache_utils import Cache

        cache = Cache(
            layers=[self._ragged_cls([kv.layers[i] for kv in kvs]) for i in range(self._n_layers)]
        )
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=logits_to_keep,
        )
        self.stats["forwards"] += 1
        return out.logits

    def _extend(self, kv: _KV, ids: list[int], logits_to_keep: int = 1) -> torch.Tensor:
        """Encodes `ids` after what `kv` holds (batch 1); returns the logits kept."""
        torch = self._torch
        kv.reserve(kv.length + len(ids))
        self.stats["prefill_tokens"] += len(ids)
        logits = None
        for lo in range(0, len(ids), _PREFILL_CHUNK):
            chunk = ids[lo : lo + _PREFILL_CHUNK]
            past = kv.length
            n = len(chunk)
            positions = torch.arange(past, past + n, device=self.device)
            # Explicit causal mask over [cache + chunk]: query q sees keys up to past + q.
            keys = torch.arange(past + n, device=self.device)
            mask = (keys[None, :] <= positions[:, None])[None, None]
            keep = logits_to_keep if lo + n == len(ids) else 1
            logits = self._forward(
                torch.tensor([chunk], device=self.device), [kv], positions[None], mask, keep
            )
        assert logits is not None
        return logits[0]

    # --- generate: start a row (prefill), decode rounds, finish --------------------------------

    def _start_row(self, job: _Job) -> _Row | None:
        request: _GenerateRequest = job.payload
        if request.adapter and request.adapter not in self._adapters:
            raise NotFound(f"adapter {request.adapter!r} was unloaded before this request ran")
        ids = chat.prompt_ids(self.tokenizer, request.messages)
        room = self.max_context_tokens - len(ids)
        if room < 1:
            raise ContextOverflow(
                f"the prompt is {len(ids)} tokens, the model's context is "
                f"{self.max_context_tokens}; shorten the history or the exemplar"
            )
        adapter_key = self._adapter_key(request.adapter)
        episode, store = self._checkout(request.episode_id, adapter_key)
        params = request.params
        generator = None
        if params.temperature > 0:
            generator = self._torch.Generator(device=self.device)
            generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
        # Keep at least one prompt token to encode: its logits give the first new token.
        reuse = min(_common_prefix(episode.ids, ids), len(ids) - 1)
        row = _Row(
            job=job,
            request=request,
            prompt_len=len(ids),
            cached=reuse,
            max_new=min(params.max_new_tokens, room),
            episode=episode,
            store=store,
            generator=generator,
        )
        try:
            self._use_adapter(request.adapter)
            # The pool serves episodes only: a call without an episode id is uncached by contract.
            fresh = request.episode_id is not None and reuse < _POOL_MIN_GAIN
            pooled = self._pooled_prefix(ids, adapter_key, reuse) if fresh else None
            if pooled is not None:
                reuse = min(_common_prefix(pooled.ids, ids), len(ids) - 1)
                episode.kv.copy_prefix(pooled.kv, reuse)
            else:
                episode.kv.truncate(reuse)
            episode.ids = ids[:reuse]
            row.cached = reuse
            logits = self._extend(episode.kv, ids[reuse:])
            episode.ids = ids
            episode.kv.reserve(len(ids) + row.max_new)  # decode appends without reallocating
            if fresh:  # an episode's first call: pool its prompt head for the next episodes
                self._pool_prefix(ids, episode.kv, adapter_key)
        except BaseException:
            self._release(row)
            raise
        token = self._sample(logits[-1:], [row])[0]
        if self._advance(row, token):
            self._finish(row)
            return None
        return row

    def _decode_round(self, batches: dict[str, _Batch], joined: list[_Row]) -> None:
        """Adds the joined rows, then runs one decode step for every sub-batch."""
        for row in joined:
            key = self._adapter_key(row.request.adapter)
            batches.setdefault(key, _Batch(key, [])).rows.append(row)
        for key in list(batches):
            batch = batches[key]
            try:
                self._step(batch)
            except Exception as exc:
                logger.exception("decode step failed")
                for row in batch.rows:
                    self._release(row)
                    row.job.resolve(error=exc)
                del batches[key]
                continue
            done = [row for row in batch.rows if row.finish_reason or _gave_up(row.job)]
            for row in done:
                self._finish(row)
            batch.rows = [row for row in batch.rows if row not in done]
            if not batch.rows:
                del batches[key]

    def _step(self, batch: _Batch) -> None:
        torch = self._torch
        rows = batch.rows
        self.stats["decode_steps"] += 1
        self.stats["peak_batch"] = max(self.stats["peak_batch"], len(rows))
        self._use_adapter(rows[0].request.adapter)
        ids = torch.tensor([[row.generated[-1]] for row in rows], device=self.device)
        positions = torch.tensor([[row.episode.kv.length] for row in rows], device=self.device)
        # No mask: a single new token sees its whole row, and rows never share a buffer.
        kvs = [row.episode.kv for row in rows]
        logits = self._forward(ids, kvs, positions, None)[:, -1]
        for row, token in zip(rows, self._sample(logits, rows), strict=True):
            if self._advance(row, token):
                row.finish_reason = row.finish_reason or "stop"

    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> list[int]:
        """Next token per row: one argmax for the greedy rows, a seeded draw for the others."""
        torch = self._torch
        tokens = logits.argmax(dim=-1).tolist()
        for i, row in enumerate(rows):
            params = row.request.params
            if params.temperature <= 0:
                continue
            probs = torch.softmax(logits[i].float() / params.temperature, dim=-1)
            if params.top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                # Keep the smallest head of the distribution whose mass reaches top_p.
                drop = sorted_probs.cumsum(0) - sorted_probs >= params.top_p
                sorted_probs[drop] = 0.0
                probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
            tokens[i] = int(torch.multinomial(probs, 1, generator=row.generator))
        return tokens

    def _advance(self, row: _Row, token: int) -> bool:
        """Records a new token; True when the row is finished (finish_reason set)."""
        row.generated.append(token)
        if token in self._eos:
            row.finish_reason = "stop"
            return True
        stops = row.request.params.stop
        if stops:
            text = self._text(row.generated)
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                row.text = text[:cut]
                row.finish_reason = "stop"
                return True
        if len(row.generated) >= row.max_new:
            row.finish_reason = "length"
            return True
        return False

    def _text(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        assert isinstance(text, str)  # one sequence of ids decodes to one string
        return text

    def _finish(self, row: _Row) -> None:
        generated = row.generated
        # The cache now holds the prompt and every generated token but the last (never fed).
        row.episode.ids = row.episode.ids + generated[:-1]
        if not row.text:
            body = generated[:-1] if generated and generated[-1] in self._eos else generated
            row.text = self._text(body)
        usage = TokenUsage(
            prompt_tokens=row.prompt_len,
            cached_prompt_tokens=row.cached,
            completion_tokens=len(generated),
        )
        self._checkin(row)
        row.job.resolve(Generation(row.text, usage, row.finish_reason or "stop"))

    # --- scoring -------------------------------------------------------------------------------

    def _score(
        self,
        messages: list[ChatMessage],
        prefix: str,
        candidates: list[str],
        adapter: str,
        episode_id: str | None = None,
    ) -> list[float]:
        """Mean log-prob per token of each candidate (+ end of turn) after the prompt and prefix.

        The shared prompt is encoded once; then all candidates go through one forward, packed
        into one sequence whose mask lets each candidate see the prompt and its own earlier
        tokens only, with positions restarting after the prompt for each. With `episode_id` the
        prompt starts from the episode's cache (grounding scores right after the episode's
        generate, so only the thought line is new) and the cache keeps prompt + prefix, which is
        where the episode's next prompt continues.
        """
        if adapter and adapter not in self._adapters:
            raise NotFound(f"adapter {adapter!r} was unloaded before this request ran")
        head_text = chat.render_text(self.tokenizer, messages, add_generation_prompt=True) + prefix
        head = chat.encode_text(self.tokenizer, head_text)
        fulls = [
            chat.encode_text(self.tokenizer, head_text + c + self._eot_text) for c in candidates
        ]
        # Tokens can merge across the prefix/candidate boundary: a candidate's scored tokens
        # start where its ids leave the head's; the prompt encoded once is what all share.
        starts = [_common_prefix(head, f) for f in fulls]
        shared = min(starts)
        if shared < 1:
            raise InvalidArgument("the prompt must not be empty")
        if max(len(f) for f in fulls) > self.max_context_tokens:
            raise ContextOverflow("prompt + candidate is longer than the model's context")
        self._use_adapter(adapter)
        episode, store = self._checkout(episode_id, self._adapter_key(adapter))
        try:
            scores = self._score_from(episode, fulls, starts, shared)
        except BaseException:
            self._release_episode(episode_id, store)
            raise
        self._checkin_episode(episode_id, episode, store)
        return scores

    def _score_from(
        self, episode: _Episode, fulls: list[list[int]], starts: list[int], shared: int
    ) -> list[float]:
        torch = self._torch
        kv = episode.kv
        # Keep at least one prompt token to encode: its logits predict the first scored token.
        reuse = min(_common_prefix(episode.ids, fulls[0][:shared]), shared - 1)
        kv.truncate(reuse)
        self.stats["score_cached_tokens"] += reuse
        last = self._extend(kv, fulls[0][reuse:shared])[-1]  # predicts token `shared`
        tails = [f[shared:] for f in fulls]
        packed = [t for tail in tails for t in tail]
        segment = torch.tensor(
            [j for j, tail in enumerate(tails) for _ in tail], device=self.device
        )
        offset = torch.tensor([k for tail in tails for k in range(len(tail))], device=self.device)
        n = len(packed)
        causal = (segment[None, :] == segment[:, None]) & (offset[None, :] <= offset[:, None])
        mask = torch.cat([torch.ones(n, shared, dtype=torch.bool, device=self.device), causal], 1)
        positions = (shared + offset)[None]
        logits = self._forward(
            torch.tensor([packed], device=self.device), [kv], positions, mask[None, None], 0
        )[0]
        # Row r of `logprobs` holds the log-probs of the token after packed token r; the token at
        # `shared` (tail offset 0) is predicted by the shared prompt's last position.
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        first = torch.log_softmax(last.float(), dim=-1)
        scores: list[float] = []
        cursor = 0
        for tail, start in zip(tails, starts, strict=True):
            picked = []
            for k in range(start - shared, len(tail)):
                row = first if k == 0 else logprobs[cursor + k - 1]
                picked.append(float(row[tail[k]]))
            scores.append(sum(picked) / len(picked))
            cursor += len(tail)
        kv.truncate(shared)  # drop the candidates: the cache holds the prompt + prefix
        episode.ids = fulls[0][:shared]
        return scores


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
