"""The inference-engine interface: value types and the `Engine` protocol every engine implements.

Engines (`local`, `tgi`, `openai`) turn chat messages into text for the policy, ActRe and critic
services. Plain dataclasses in and out; no torch, grpc or protobuf here. Adapters are LoRA
directories on shared storage; a directory counts as an adapter only once its writer has put
`manifest.json` in it (written last), so readers go through `read_adapter_manifest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from a3t.artifacts import MANIFEST as ADAPTER_MANIFEST
from a3t.artifacts import local_path, read_manifest, write_manifest
from a3t.errors import FailedPrecondition, InvalidArgument
from a3t.trajectory import TokenUsage

ROLES = ("system", "user", "assistant")
BASE_ADAPTER = "base"
"""Adapter name that means "no adapter" in requests."""


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidArgument(f"message role {self.role!r} is not one of {ROLES}")


@dataclass(frozen=True)
class GenerationParams:
    """How to generate. temperature 0 = greedy; seed None = unseeded; stop strings end the text."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise InvalidArgument(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise InvalidArgument(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgument(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not s for s in self.stop):
            raise InvalidArgument("stop sequences must not be empty strings")


@dataclass(frozen=True)
class Generation:
    text: str  # without the end-of-turn token and without the stop sequence that ended it
    usage: TokenUsage
    finish_reason: str  # "stop" (end of turn or a stop sequence) | "length" (max_new_tokens)


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    path: str
    version: int
    base_model: str


@dataclass(frozen=True)
class EngineInfo:
    base_model: str
    engine: str  # "local" | "tgi" | "openai"
    device: str  # "cpu", "cuda:0"; empty for remote engines
    dtype: str  # "float32", "bfloat16", "nf4"
    adapters: tuple[AdapterInfo, ...]
    active_adapter: str  # empty = the base model
    max_context_tokens: int


class Engine(Protocol):
    """What the model services call. `adapter=None` = the active adapter; "base" = no adapter."""

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        episode_id: str | None = None,
        adapter: str | None = None,
    ) -> Generation:
        """The assistant's next turn; `episode_id` lets an engine reuse the episode's state."""
        ...

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str | None = None,
        episode_id: str | None = None,
    ) -> list[float]:
        """Mean log-prob per token of each candidate as the assistant's text after `prefix`.

        `episode_id`, as in generate, lets an engine start from the episode's cached prompt.

        The mean runs over the candidate's tokens plus the end-of-turn token that closes it, so a
        candidate that is only the start of a likelier one ("go to cabinet 1" vs "... 10") does not
        win. Used by action grounding: the admissible action with the highest score replaces a
        non-admissible one.
        """
        ...

    async def load_adapter(self, name: str, path: str, activate: bool = False) -> EngineInfo:
        """Loads (or reloads) a LoRA adapter under `name`.

        NotFound: `path` is missing. FailedPrecondition: no manifest.json, or its base_model is not
        this engine's base model.
        """
        ...

    async def unload_adapter(self, name: str) -> EngineInfo:
        """NotFound when `name` is not loaded. Unloading the active adapter activates the base."""
        ...

    def end_episode(self, episode_id: str) -> bool:
        """Drops the episode's cached state; True when there was some."""
        ...

    def info(self) -> EngineInfo: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class AdapterManifest:
    """The parts of an adapter's manifest.json an engine checks; writers may add more keys."""

    base_model: str
    version: int = 0
    name: str = ""


def adapter_dir(path: str) -> Path:
    """A path or file:// URI of an adapter directory, as a local Path."""
    return local_path(path)


def read_adapter_manifest(path: str) -> AdapterManifest:
    """Reads an adapter directory's manifest.json (a3t.artifacts: refuses a directory without
    one) and checks the fields an engine needs."""
    data = read_manifest(adapter_dir(path))
    try:
        return AdapterManifest(
            base_model=str(data["base_model"]),
            version=int(data.get("version", 0)),
            name=str(data.get("name", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FailedPrecondition(
            f"{adapter_dir(path) / ADAPTER_MANIFEST} is not a valid adapter manifest ({exc!r}); "
            "it needs at least base_model"
        ) from exc


def write_adapter_manifest(
    path: str, *, base_model: str, version: int, name: str = "", **extra: Any
) -> Path:
    """Writes manifest.json into an adapter directory; call it after the weights are written."""
    return write_manifest(
        adapter_dir(path), {"name": name, "version": version, "base_model": base_model, **extra}
    )
