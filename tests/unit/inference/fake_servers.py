"""Protocol-faithful fake inference servers on 127.0.0.1, for the tgi and openai engine tests.

Each fake is a `http.server` in a daemon thread that answers exactly the JSON shapes the real
server documents (the payloads are listed in the engines' module docstrings) and records every
request, so tests assert on what went over the wire: the prompt, sampling parameters, and the
adapter (`parameters.adapter_id` for TGI, `model` for OpenAI-compatible servers).

The "model" behind a fake is a script: `replies` is a queue of texts to answer with (default
"look"). Token ids and log-probs come from the tiny tokenizer so usage counts are checkable.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The eos of the tiny model (ChatML end of turn).
EOT = "<|im_end|>"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any  # parsed JSON, or None
    headers: dict[str, str]


@dataclass
class Reply:
    """What a handler returns: a JSON body, raw text, or server-sent events."""

    status: int = 200
    body: Any = None
    text: str | None = None
    events: list[dict] | None = None  # each sent as `data:<json>\n\n`


class FakeHttpServer:
    """Runs `handle(method, path, body) -> Reply` on 127.0.0.1:<free port> in a thread."""

    def __init__(self, handle: Callable[[str, str, Any], Reply]) -> None:
        self.requests: list[Recorded] = []
        self.handle = handle
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, the end of a stream is the close.
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(Recorded(method, self.path, body, dict(self.headers)))
                reply = fake.handle(method, self.path, body)
                self.send_response(reply.status)
                if reply.events is not None:
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in reply.events:
                        self.wfile.write(f"data:{json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    return
                if reply.text is not None:
                    data, ctype = reply.text.encode(), "text/plain"
                else:
                    data, ctype = json.dumps(reply.body).encode(), "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Fake:
    """Context manager and request log shared by the fakes (each owns one FakeHttpServer)."""

    http: FakeHttpServer

    def __enter__(self):
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def requests(self) -> list[Recorded]:
        return self.http.requests

    def posts(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == "POST" and r.path == path]


def _prefill_logprob(token_id: int, position: int) -> float:
    """The fake model's log-prob of a prompt token: deterministic, so tests can recompute it."""
    return -((token_id * 7 + position) % 11) / 4 - 0.05


@dataclass
class FakeTgi(_Fake):
    """Text Generation Inference (TGI 2.x/3.x), the routes the tgi engine uses:

    GET  /health -> 200 (503 while `ready` is False)
    GET  /info   -> {"model_id", "model_dtype", "max_input_tokens", "max_total_tokens", ...}
    POST /       -> {"inputs": str, "parameters": {...}, "stream": bool}
        stream=true:  server-sent events, one per token
            data:{"index": i, "token": {"id", "text", "logprob", "special"},
                  "generated_text": null | str, "details": null | {"finish_reason",
                  "generated_tokens", "input_length", "seed"}, "top_tokens": null}
            (the last event carries generated_text and details)
        stream=false: [{"generated_text": str, "details": {"finish_reason", "generated_tokens",
            "seed", "prefill": [{"id", "text", "logprob"}], "tokens": [...]}}]
            (prefill only with parameters.decoder_input_details; its first logprob is null)
        errors: {"error": str, "error_type": "validation" | "overloaded" | "generation"}
    """

    tokenizer: Any = None
    model_id: str = "tiny"
    replies: deque = field(default_factory=deque)
    adapters: tuple[str, ...] = ()  # adapter ids the server was launched with (LORA_ADAPTERS)
    ready: bool = True
    overloaded: bool = False
    stop_includes_sequence: bool = True  # TGI returns the stop sequence in the text

    def __post_init__(self) -> None:
        self.http = FakeHttpServer(self.handle)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def handle(self, method: str, path: str, body: Any) -> Reply:
        if method == "GET" and path == "/health":
            return Reply(200 if self.ready else 503, body={} if self.ready else {"error": "x"})
        if method == "GET" and path == "/info":
            return Reply(
                body={
                    "model_id": self.model_id,
                    "model_sha": None,
                    "model_dtype": "torch.float16",
                    "model_device_type": "cuda",
                    "model_pipeline_tag": "text-generation",
                    "max_concurrent_requests": 128,
                    "max_best_of": 2,
                    "max_stop_sequences": 4,
                    "max_input_tokens": 1024,
                    "max_total_tokens": 2048,
                    "validation_workers": 2,
                    "max_client_batch_size": 4,
                    "router": "text-generation-router",
                    "version": "3.0.1",
                }
            )
        if method == "POST" and path == "/":
            return self._generate(body)
        return Reply(404, body={"error": f"no route {method} {path}"})

    def _generate(self, body: dict) -> Reply:
        params = body.get("parameters") or {}
        if self.overloaded:
            return Reply(429, body={"error": "Model is overloaded", "error_type": "overloaded"})
        adapter = params.get("adapter_id")
        # Like TGI: an adapter id it was not launched with gets the base model, silently. One
        # it serves shifts the model's log-probs.
        shift = -0.01 * (self.adapters.index(adapter) + 1) if adapter in self.adapters else 0.0
        if params.get("temperature") is not None and params["temperature"] <= 0:
            return Reply(
                422,
                body={
                    "error": "`temperature` must be strictly positive",
                    "error_type": "validation",
                },
            )
        if params.get("top_p") is not None and not 0 < params["top_p"] < 1:
            return Reply(
                422, body={"error": "`top_p` must be > 0.0 and < 1.0", "error_type": "validation"}
            )
        prompt_ids = self._ids(body["inputs"])
        if params.get("decoder_input_details"):
            prefill = [
                {
                    "id": t,
                    "text": self.tokenizer.decode([t]),
                    "logprob": None if i == 0 else _prefill_logprob(t, i) + shift,
                }
                for i, t in enumerate(prompt_ids)
            ]
            return Reply(
                body=[
                    {
                        "generated_text": "x",
                        "details": {
                            "finish_reason": "length",
                            "generated_tokens": 1,
                            "seed": None,
                            "prefill": prefill,
                            "tokens": [{"id": 1, "text": "x", "logprob": -1.0, "special": False}],
                        },
                    }
                ]
            )
        reply = self.replies.popleft() if self.replies else "look"
        finish = "eos_token"
        for stop in params.get("stop") or []:
            cut = reply.find(stop)
            if cut >= 0:
                reply = reply[: cut + len(stop)] if self.stop_includes_sequence else reply[:cut]
                finish = "stop_sequence"
        ids = self._ids(reply)
        limit = params.get("max_new_tokens") or 100
        if len(ids) >= limit:
            ids, finish = ids[:limit], "length"
            reply = self.tokenizer.decode(ids)
        tokens = [
            {"id": t, "text": self.tokenizer.decode([t]), "logprob": -0.5, "special": False}
            for t in ids
        ]
        if finish == "eos_token":
            eot = self.tokenizer.convert_tokens_to_ids(EOT)
            tokens.append({"id": eot, "text": EOT, "logprob": -0.1, "special": True})
        if not body.get("stream"):
            return Reply(body=[{"generated_text": reply}])
        events = [
            {
                "index": i + 1,
                "token": tok,
                "generated_text": None,
                "details": None,
                "top_tokens": None,
            }
            for i, tok in enumerate(tokens)
        ]
        events[-1]["generated_text"] = reply
        events[-1]["details"] = {
            "finish_reason": finish,
            "generated_tokens": len(tokens),
            "input_length": len(prompt_ids),
            "seed": params.get("seed"),
        }
        return Reply(events=events)


@dataclass
class FakeOpenAI(_Fake):
    """An OpenAI-compatible server as vLLM serves it, the routes the openai engine uses:

    GET  /v1/models -> {"object": "list", "data": [{"id", "object": "model", "owned_by",
                        "root", "parent", "max_model_len"}]}  (adapters are listed as models)
    POST /v1/chat/completions  {"model", "messages", "max_tokens", "temperature", "top_p",
         "seed"?, "stop"?, "stream": false}
         -> {"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0,
             "message": {"role": "assistant", "content"}, "finish_reason": "stop" | "length"}],
             "usage": {"prompt_tokens", "completion_tokens", "total_tokens",
                       "prompt_tokens_details": {"cached_tokens"}}}
    POST /v1/load_lora_adapter   {"lora_name", "lora_path"} -> 200 text
    POST /v1/unload_lora_adapter {"lora_name"} -> 200 text
    errors: {"object": "error", "message", "type", "param": null, "code": <status>}
    """

    model: str = "tiny"
    replies: deque = field(default_factory=deque)
    adapters: dict[str, str] = field(default_factory=dict)  # name -> path
    runtime_lora: bool = True  # vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        self.http = FakeHttpServer(self.handle)

    @staticmethod
    def _error(status: int, message: str, kind: str) -> Reply:
        return Reply(
            status,
            body={
                "object": "error",
                "message": message,
                "type": kind,
                "param": None,
                "code": status,
            },
        )

    def handle(self, method: str, path: str, body: Any) -> Reply:
        if method == "GET" and path == "/v1/models":
            models = [self.model, *self.adapters]
            return Reply(
                body={
                    "object": "list",
                    "data": [
                        {
                            "id": m,
                            "object": "model",
                            "created": 0,
                            "owned_by": "vllm",
                            "root": self.adapters.get(m, m),
                            "parent": None if m == self.model else self.model,
                            "max_model_len": 2048,
                        }
                        for m in models
                    ],
                }
            )
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat(body)
        if method == "POST" and path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
            if not self.runtime_lora:
                return Reply(404, body={"detail": "Not Found"})  # FastAPI's unknown route
            name = body["lora_name"]
            if path.endswith("/load_lora_adapter"):
                if name in self.adapters:
                    return self._error(
                        400,
                        f"The lora adapter '{name}' has already been loaded.",
                        "InvalidUserInput",
                    )
                self.adapters[name] = body["lora_path"]
                return Reply(text=f"Success: LoRA adapter '{name}' added successfully.")
            if name not in self.adapters:
                return self._error(
                    404, f"The lora adapter '{name}' cannot be found.", "NotFoundError"
                )
            del self.adapters[name]
            return Reply(text=f"Success: LoRA adapter '{name}' removed successfully.")
        return Reply(404, body={"detail": "Not Found"})

    def _chat(self, body: dict) -> Reply:
        if body["model"] != self.model and body["model"] not in self.adapters:
            return self._error(404, f"The model `{body['model']}` does not exist.", "NotFoundError")
        reply = self.replies.popleft() if self.replies else "look"
        finish = "stop"
        for stop in body.get("stop") or []:
            cut = reply.find(stop)
            if cut >= 0:
                reply = reply[:cut]  # OpenAI servers drop the stop sequence
        words = reply.split()
        if len(words) > body.get("max_tokens", 16):
            reply, finish = " ".join(words[: body["max_tokens"]]), "length"
        prompt_tokens = sum(len(m["content"].split()) + 4 for m in body["messages"])
        completion_tokens = len(reply.split()) + 1
        return Reply(
            body={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
                },
            }
        )
