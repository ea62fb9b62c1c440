"""The `openai` engine: an OpenAI-compatible server (vLLM, SGLang) over HTTP with httpx.

The server renders the chat with its own template and keeps its own prefix cache, so this engine
sends messages and reads text and usage. A LoRA adapter is addressed by model name: a request for
adapter "exp1-round-2" sends `"model": "exp1-round-2"`; the base model is `model` itself.

Requests (JSON; `endpoint` is the server root, e.g. "http://vllm:8000"):

    generate: POST /v1/chat/completions
      {"model": "<adapter name, or the base model's served name>",
       "messages": [{"role": "system" | "user" | "assistant", "content": "..."}],
       "max_tokens": 96, "temperature": 0.0, "top_p": 1.0,
       "seed": 7, "stop": ["..."],            # only when set
       "stream": false}
      -> {"choices": [{"message": {"content": "..."}, "finish_reason": "stop" | "length"}],
          "usage": {"prompt_tokens", "completion_tokens",
                    "prompt_tokens_details": {"cached_tokens"}}}   # details optional
    load_adapter:   POST /v1/load_lora_adapter   {"lora_name": "<name>", "lora_path": "<dir>"}
    unload_adapter: POST /v1/unload_lora_adapter {"lora_name": "<name>"}
    start (ready):  GET  /v1/models -> {"data": [{"id", "max_model_len"?}]}

Runtime adapter loading is vLLM's (started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True); the path
must be the adapter directory as the server sees it (the same shared volume). A server without
that route (404) is accepted when it already lists the adapter's name among its models
(e.g. vLLM `--lora-modules name=path`), and refused otherwise.

`score_continuations` raises Unimplemented: chat completions return no log-probs of given text,
so action grounding needs the local or tgi engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from a3t.errors import A3tError, FailedPrecondition, InvalidArgument, Unavailable, Unimplemented
from a3t.inference.base import ChatMessage, EngineInfo, Generation, GenerationParams
from a3t.inference.remote import AdapterBook, canonical_model, status_error, wait_until
from a3t.trajectory import TokenUsage

log = logging.getLogger(__name__)

_SERVER = "the OpenAI-compatible server"


@dataclass(frozen=True)
class OpenAIEngineConfig:
    endpoint: str  # server root without /v1, e.g. "http://vllm:8000"
    model: str  # the base model's served name ("smollm2" = HuggingFaceTB/SmolLM2-135M-Instruct)
    timeout_seconds: float = 300.0  # per HTTP request, and for the server to become ready


class OpenAIEngine:
    """Engine over an OpenAI-compatible server. Construct, `await start()`, use, `close()`."""

    def __init__(self, config: OpenAIEngineConfig):
        self.config = config
        self.served_model = canonical_model(config.model)
        self._book = AdapterBook(config.model)
        self._http = httpx.AsyncClient(
            base_url=config.endpoint.rstrip("/"), timeout=config.timeout_seconds
        )
        self._max_context = 0

    async def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TransportError as exc:  # connect errors and timeouts
            raise Unavailable(f"{_SERVER} at {self.config.endpoint} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise status_error(response.status_code, _error_message(response), _SERVER)
        return response

    async def _models(self) -> list[dict[str, Any]]:
        data = (await self._request("GET", "/v1/models")).json().get("data", [])
        return [m for m in data if isinstance(m, dict)]

    async def start(self) -> None:
        """Waits until /v1/models answers, and checks that it serves the configured model."""
        models: list[dict[str, Any]] = []

        async def probe() -> None:
            nonlocal models
            models = await self._models()

        await wait_until(probe, self.config.timeout_seconds, f"{_SERVER} {self.config.endpoint}")
        ids = [str(m.get("id")) for m in models]
        base = next((m for m in models if m.get("id") == self.served_model), None)
        if base is None:
            raise FailedPrecondition(
                f"{self.config.endpoint} serves {ids}, not {self.served_model!r}; set model to "
                "the server's served model name"
            )
        self._max_context = int(base.get("max_model_len") or 0)
        log.info("%s at %s serves %s", _SERVER, self.config.endpoint, ids)

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
        body: dict[str, Any] = {
            "model": self._book.resolve(adapter) or self.served_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": False,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        data = (await self._request("POST", "/v1/chat/completions", body)).json()
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
            details = usage.get("prompt_tokens_details") or {}
            token_usage = TokenUsage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                cached_prompt_tokens=int(details.get("cached_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise A3tError(
                f"{_SERVER} answered an unexpected chat completion: {data!r:.300}"
            ) from exc
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(text=text, usage=token_usage, finish_reason=finish)

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str | None = None,
        episode_id: str | None = None,  # no cache to reuse: each request carries its prompt
    ) -> list[float]:
        raise Unimplemented(
            "the openai engine cannot score continuations (chat completions return no log-probs "
            "of given text); turn action grounding off or use the local or tgi engine"
        )

    async def load_adapter(self, name: str, path: str, activate: bool = False) -> EngineInfo:
        info = self._book.check(name, path)
        if name in self._book:  # a reload: the server refuses a name it already has
            await self._unload_on_server(name)
        try:
            await self._request(
                "POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": path}
            )
        except A3tError as exc:
            if exc.code_name != "NOT_FOUND":
                raise
            # No runtime-loading route: fine when the server was started with this adapter.
            if name not in {str(m.get("id")) for m in await self._models()}:
                raise FailedPrecondition(
                    f"{_SERVER} cannot load adapters at run time and does not serve {name!r}; "
                    "start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or with "
                    f"--lora-modules {name}={path}"
                ) from exc
        self._book.add(info, activate)
        return self.info()

    async def _unload_on_server(self, name: str) -> None:
        try:
            await self._request("POST", "/v1/unload_lora_adapter", {"lora_name": name})
        except A3tError as exc:
            if exc.code_name != "NOT_FOUND":
                raise
            log.warning("%s could not unload adapter %s: %s", _SERVER, name, exc)

    async def unload_adapter(self, name: str) -> EngineInfo:
        if name not in self._book:
            self._book.remove(name)  # raises NotFound, naming the loaded ones
        await self._unload_on_server(name)
        self._book.remove(name)
        return self.info()

    def end_episode(self, episode_id: str) -> bool:
        return False  # the server's prefix cache is not per episode

    def info(self) -> EngineInfo:
        return EngineInfo(
            base_model=self.config.model,
            engine="openai",
            device="",
            dtype="",
            adapters=self._book.adapters,
            active_adapter=self._book.active,
            max_context_tokens=self._max_context,
        )

    async def close(self) -> None:
        await self._http.aclose()


def _error_message(response: httpx.Response) -> str:
    """The server's own error text: vLLM's {"message"}, FastAPI's {"detail"}, or the body."""
    try:
        data = response.json()
    except ValueError:
        return response.text
    if isinstance(data, dict):
        for key in ("message", "detail", "error"):
            if key in data:
                value = data[key]
                return value.get("message", str(value)) if isinstance(value, dict) else str(value)
    return response.text
