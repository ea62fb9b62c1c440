"""A scripted engine implementing a3t.inference.base.Engine, for the model services' unit tests.

It answers `generate` with queued replies (default "look"), scores candidates from a dict, keeps
adapters and episodes like a real engine would (NotFound for unknown adapters, manifest checks),
and records every call so tests assert on the prompts and parameters the services sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from a3t.errors import ContextOverflow
from a3t.inference.base import (
    ChatMessage,
    EngineInfo,
    Generation,
    GenerationParams,
)
from a3t.inference.remote import AdapterBook
from a3t.trajectory import TokenUsage


@dataclass
class GenerateCall:
    messages: list[ChatMessage]
    params: GenerationParams
    episode_id: str | None
    adapter: str | None


@dataclass
class ScoreCall:
    messages: list[ChatMessage]
    prefix: str
    candidates: list[str]
    adapter: str | None


@dataclass
class FakeEngine:
    base_model: str = "fake/model"
    replies: deque = field(default_factory=deque)
    scores: dict[str, float] = field(default_factory=dict)  # candidate -> score; else -10
    generate_calls: list[GenerateCall] = field(default_factory=list)
    score_calls: list[ScoreCall] = field(default_factory=list)
    episodes: set[str] = field(default_factory=set)
    closed: bool = False
    max_prompt_words: int = 0  # > 0: a longer prompt raises ContextOverflow, as a real engine

    def __post_init__(self) -> None:
        self.book = AdapterBook(self.base_model)

    def reply(self, *texts: str) -> FakeEngine:
        self.replies.extend(texts)
        return self

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        episode_id: str | None = None,
        adapter: str | None = None,
    ) -> Generation:
        self.book.resolve(adapter)  # NotFound for an unknown adapter, as real engines do
        words = sum(len(m.content.split()) for m in messages)
        if self.max_prompt_words and words > self.max_prompt_words:
            raise ContextOverflow(
                f"the prompt is {words} words, the context {self.max_prompt_words}"
            )
        self.generate_calls.append(GenerateCall(list(messages), params, episode_id, adapter))
        text = self.replies.popleft() if self.replies else "look"
        cached = 5 if episode_id in self.episodes else 0
        if episode_id:
            self.episodes.add(episode_id)
        usage = TokenUsage(
            prompt_tokens=sum(len(m.content.split()) for m in messages),
            cached_prompt_tokens=cached,
            completion_tokens=len(text.split()) + 1,
        )
        return Generation(text, usage, "stop")

    async def score_continuations(
        self,
        messages: Sequence[ChatMessage],
        prefix: str,
        candidates: Sequence[str],
        adapter: str | None = None,
        episode_id: str | None = None,  # no cache to reuse: each request carries its prompt
    ) -> list[float]:
        self.book.resolve(adapter)
        self.score_calls.append(ScoreCall(list(messages), prefix, list(candidates), adapter))
        return [self.scores.get(c, -10.0) for c in candidates]

    async def load_adapter(self, name: str, path: str, activate: bool = False) -> EngineInfo:
        self.book.add(self.book.check(name, path), activate)
        return self.info()

    async def unload_adapter(self, name: str) -> EngineInfo:
        self.book.remove(name)
        return self.info()

    def end_episode(self, episode_id: str) -> bool:
        if episode_id in self.episodes:
            self.episodes.discard(episode_id)
            return True
        return False

    def info(self) -> EngineInfo:
        return EngineInfo(
            base_model=self.base_model,
            engine="fake",
            device="",
            dtype="",
            adapters=self.book.adapters,
            active_adapter=self.book.active,
            max_context_tokens=2048,
        )

    async def close(self) -> None:
        self.closed = True
