"""What the remote engines (`tgi`, `openai`) share: adapter bookkeeping and HTTP error mapping.

A remote server holds the weights. The engine only checks an adapter directory's manifest (the rule
every reader follows: no manifest.json, no adapter), remembers which names requests may use, and
turns the server's HTTP failures into the project's exceptions, so a model service answers a gRPC
status that says what went wrong (AIP-193) instead of an opaque INTERNAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from a3t.errors import (
    A3tError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from a3t.inference.base import BASE_ADAPTER, AdapterInfo, read_adapter_manifest
from a3t.inference.models import SMOLLM2

log = logging.getLogger(__name__)

# Short names of the packaged default, as a service config or a manifest may spell it.
_MODEL_ALIASES = {"smollm2": SMOLLM2}


def canonical_model(name: str) -> str:
    """The model's full name: "smollm2" -> "HuggingFaceTB/SmolLM2-135M-Instruct"; others as is."""
    return _MODEL_ALIASES.get(name, name)


def same_model(a: str, b: str) -> bool:
    return canonical_model(a) == canonical_model(b)


class AdapterBook:
    """The adapters a remote engine may address by name, and which one is active.

    Loading only validates and records: the server itself must be able to reach the adapter (TGI:
    launched with it; vLLM: told to load it from the same path on shared storage).
    """

    def __init__(self, base_model: str):
        self.base_model = base_model
        self._adapters: dict[str, AdapterInfo] = {}
        self.active = ""  # "" = the base model

    def check(self, name: str, path: str) -> AdapterInfo:
        """Validates an adapter directory for this base model; records nothing."""
        if not name or name == BASE_ADAPTER:
            raise InvalidArgument(f"adapter name must be non-empty and not {BASE_ADAPTER!r}")
        manifest = read_adapter_manifest(path)
        if not same_model(manifest.base_model, self.base_model):
            raise FailedPrecondition(
                f"adapter {path} was trained on {manifest.base_model!r}, but this engine serves "
                f"{self.base_model!r}; load an adapter trained on this base model"
            )
        return AdapterInfo(name, path, manifest.version, self.base_model)

    def add(self, info: AdapterInfo, activate: bool) -> None:
        self._adapters[info.name] = info
        if activate:
            self.active = info.name

    def __contains__(self, name: str) -> bool:
        return name in self._adapters

    def remove(self, name: str) -> None:
        if name not in self._adapters:
            raise NotFound(f"adapter {name!r} is not loaded; loaded: {sorted(self._adapters)}")
        del self._adapters[name]
        if self.active == name:
            self.active = ""

    def resolve(self, adapter: str | None) -> str:
        """Request adapter -> the name to send: None = the active one, "base" = "" (no adapter)."""
        if adapter is None:
            return self.active
        if adapter == BASE_ADAPTER:
            return ""
        if adapter not in self._adapters:
            raise NotFound(
                f"adapter {adapter!r} is not loaded; load it first or use one of "
                f"{[*sorted(self._adapters), BASE_ADAPTER]}"
            )
        return adapter

    @property
    def adapters(self) -> tuple[AdapterInfo, ...]:
        return tuple(self._adapters[n] for n in sorted(self._adapters))


def status_error(status: int, message: str, server: str) -> A3tError:
    """One project exception for an HTTP error status of an inference server."""
    text = f"{server} answered HTTP {status}: {message.strip()[:500]}"
    if status in (408, 429, 502, 503, 504):
        return Unavailable(text + " (overloaded or starting; retry with backoff)")
    if status in (400, 413, 422):
        return InvalidArgument(text)
    if status == 404:
        return NotFound(text)
    if status in (401, 403):
        return FailedPrecondition(text + " (check the server's credentials)")
    return A3tError(text)


async def wait_until(
    probe: Callable[[], Awaitable[None]], timeout_seconds: float, what: str
) -> None:
    """Calls `probe` until it returns without raising Unavailable; Unavailable after the timeout.

    Remote servers take minutes to load a model, so a service that starts before its TGI/vLLM
    waits here (health NOT_SERVING) instead of failing at once.
    """
    deadline = time.monotonic() + timeout_seconds
    delay = 0.2
    while True:
        try:
            await probe()
            return
        except Unavailable as exc:
            if time.monotonic() + delay > deadline:
                raise Unavailable(
                    f"{what} did not become ready in {timeout_seconds:.0f}s: {exc}"
                ) from exc
            log.info("waiting for %s: %s", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
