"""The env service's logic: task listing, sessions with a TTL and a cap, stepping, generation.

No grpc here: plain values in and out, a3t.errors raised for bad input. Nothing here knows an
environment: each served env is a plugin (a3t.envs) whose engine lists and generates tasks here
and plays games in a `GameRunner` (the worker-process `GamePool` in production, a fake in unit
tests), so the event loop never blocks on an engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from a3t.envs import env_spec
from a3t.envs.base import Environment, GameState, TaskRecord, check_split_name
from a3t.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OutOfRange,
    ResourceExhausted,
    quote,
)
from a3t.trajectory import Task
from a3t_env import metrics
from a3t_env.config import EnvSettings

log = logging.getLogger(__name__)


class GameRunner(Protocol):
    async def open(self, session_id: str, env: str, task: TaskRecord) -> tuple[str, GameState]: ...
    async def step(self, session_id: str, action: str) -> GameState: ...
    async def close(self, session_id: str) -> None: ...


@dataclass(frozen=True)
class SessionStart:
    session_id: str
    task: Task
    observation: str
    admissible: tuple[str, ...]
    ttl_seconds: float


@dataclass(frozen=True)
class StepOutcome:
    observation: str
    reward: float
    done: bool
    won: bool
    admissible: tuple[str, ...]
    step_index: int
    admissible_before: bool


@dataclass
class _Session:
    session_id: str
    env: str
    task: Task
    admissible: tuple[str, ...]
    last_used: float
    steps: int = 0
    done: bool = False
    won: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_page_token: str
    total_size: int


def _task(env: str, record: TaskRecord) -> Task:
    return Task(env=env, task_id=record.task_id, split=record.split, task_type=record.task_type)


class EnvCore:
    def __init__(
        self,
        settings: EnvSettings,
        runner: GameRunner,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self._runner = runner
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._splits: dict[tuple[str, str], list[TaskRecord]] = {}
        self._envs: dict[str, Environment] = {}
        self._background: set[asyncio.Task] = set()

    # --- tasks

    def _environment(self, env: str) -> Environment:
        """The engine of a served env (built on first use: importing one can take a second)."""
        if env not in self._settings.envs:
            raise InvalidArgument(
                f"env {quote(env)} is not served here; this env service serves "
                f"{', '.join(self._settings.envs)}"
            )
        if env not in self._envs:
            self._envs[env] = env_spec(env).environment(self._settings.env_root(env))
        return self._envs[env]

    def _games(self, env: str, split: str) -> list[TaskRecord]:
        environment = self._environment(env)
        if not split:
            raise InvalidArgument("split must be set, e.g. 'valid_seen'")
        check_split_name(split)
        if (env, split) not in self._splits:
            # Listing reads the data once per split; tasks do not change while served
            # (generation writes a new split and refreshes it explicitly).
            self._splits[env, split] = environment.list_tasks(split)
        return self._splits[env, split]

    def list_tasks(
        self, env: str, split: str, page_size: int = 0, page_token: str = ""
    ) -> TaskPage:
        games = self._games(env, split)
        if page_size < 0:
            raise InvalidArgument(f"page_size must be >= 0, got {page_size}")
        try:
            start = int(page_token) if page_token else 0
        except ValueError:
            start = -1
        if not 0 <= start <= len(games):
            raise InvalidArgument(f"page_token {quote(page_token)} is not one this server returned")
        end = len(games) if page_size == 0 else min(len(games), start + page_size)
        token = str(end) if end < len(games) else ""
        return TaskPage([_task(env, g) for g in games[start:end]], token, len(games))

    def _find(self, env: str, split: str, task_id: str | None, index: int | None) -> TaskRecord:
        games = self._games(env, split)
        if (task_id is None) == (index is None):
            raise InvalidArgument("name the task by exactly one of task_id or index")
        if index is not None:
            if not 0 <= index < len(games):
                raise OutOfRange(
                    f"index {index} is outside split {split!r}, which has {len(games)} tasks"
                )
            return games[index]
        for game in games:
            if game.task_id == task_id:
                return game
        raise NotFound(
            f"task {quote(task_id or '')} is not in split {split!r}; ListTasks shows its tasks"
        )

    # --- sessions

    async def create_session(
        self, env: str, split: str, task_id: str | None = None, index: int | None = None
    ) -> SessionStart:
        self.expire_idle()
        record = self._find(env, split, task_id, index)
        if len(self._sessions) >= self._settings.max_sessions:
            raise ResourceExhausted(
                f"{len(self._sessions)} sessions are open, the limit (max_sessions); close "
                "finished sessions or retry after idle ones expire"
            )
        session_id = str(uuid.uuid4())
        # Reserve the slot before awaiting the load so concurrent creates respect the cap.
        placeholder = _Session(session_id, env, _task(env, record), (), self._clock())
        self._sessions[session_id] = placeholder
        try:
            instruction, state = await self._runner.open(session_id, env, record)
        except BaseException:
            self._sessions.pop(session_id, None)
            raise
        task = Task(
            env=env,
            task_id=record.task_id,
            split=record.split,
            task_type=record.task_type,
            instruction=instruction,
        )
        placeholder.task = task
        placeholder.admissible = state.admissible
        placeholder.last_used = self._clock()
        metrics.SESSIONS_OPEN.labels(env=env).inc()
        log.debug("session %s opened on %s", session_id, record.task_id)
        return SessionStart(
            session_id,
            task,
            state.observation,
            state.admissible,
            self._settings.session_ttl_seconds,
        )

    def _session(self, session_id: str) -> _Session:
        self.expire_idle()
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(
                f"session {quote(session_id)} does not exist or expired (idle TTL "
                f"{self._settings.session_ttl_seconds:.0f}s); create a new one"
            )
        return session

    async def step(self, session_id: str, action: str) -> StepOutcome:
        action = action.strip()
        if not action:
            raise InvalidArgument("action must not be empty; send an action such as 'look'")
        session = self._session(session_id)
        limit = self._settings.max_action_chars(session.env)
        if len(action) > limit:
            raise InvalidArgument(
                f"action is {len(action)} characters, more than the {session.env} limit "
                f"({limit}, setting env_max_action_chars)"
            )
        async with session.lock:  # one action at a time per episode
            if session.done:
                raise FailedPrecondition(
                    f"session {session_id!r} is done (won={session.won}); close it and create a "
                    "new one"
                )
            # An empty list means the env takes free text here (WebShop's search box).
            admissible_before = action in session.admissible or not session.admissible
            start = time.perf_counter()
            state = await self._runner.step(session_id, action)
            metrics.STEP_SECONDS.labels(env=session.env).observe(time.perf_counter() - start)
            metrics.STEPS.labels(env=session.env).inc()
            session.steps += 1
            session.last_used = self._clock()
            session.admissible = state.admissible
            session.won = state.won
            done = state.done or state.won or session.steps >= self._settings.max_steps
            if done and not session.done:
                session.done = True
                self._count_episode(session, "won" if state.won else "lost")
            return StepOutcome(
                observation=state.observation,
                reward=state.reward,
                done=done,
                won=state.won,
                admissible=state.admissible,
                step_index=session.steps,
                admissible_before=admissible_before,
            )

    async def close_session(self, session_id: str) -> tuple[int, bool]:
        session = self._session(session_id)
        await self._drop(session, "closed")
        return session.steps, session.won

    def _count_episode(self, session: _Session, outcome: str) -> None:
        metrics.EPISODES.labels(
            env=session.env, task_type=session.task.task_type, outcome=outcome
        ).inc()

    def _forget(self, session: _Session, outcome: str) -> bool:
        """Removes a session from the table and counts it; False if it was already gone."""
        if self._sessions.pop(session.session_id, None) is None:
            return False
        metrics.SESSIONS_OPEN.labels(env=session.env).dec()
        if not session.done:  # a finished episode was counted when it finished
            self._count_episode(session, outcome)
        return True

    async def _drop(self, session: _Session, outcome: str) -> None:
        if self._forget(session, outcome):
            await self._runner.close(session.session_id)

    def expire_idle(self) -> int:
        """Drops sessions idle past the TTL; returns how many. Called on every request and by
        the server's reaper task."""
        cutoff = self._clock() - self._settings.session_ttl_seconds
        expired = [
            s for s in self._sessions.values() if s.last_used < cutoff and not s.lock.locked()
        ]
        for session in expired:
            log.info(
                "session %s expired after %.0fs idle",
                session.session_id,
                self._settings.session_ttl_seconds,
            )
            if self._forget(session, "expired"):
                # Freeing the worker's game is fire-and-forget: the client is already gone.
                task = asyncio.get_running_loop().create_task(
                    self._runner.close(session.session_id)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return len(expired)

    async def close_all(self) -> None:
        for session in list(self._sessions.values()):
            await self._drop(session, "closed")

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    # --- generation

    async def generate_tasks(
        self,
        env: str,
        split: str,
        level: int,
        seed: int,
        count: int,
        task_types: tuple[str, ...] = (),
    ) -> int:
        """Has the env's generator write a split under its data root and serves it; returns its
        size. Idempotent: the same (split, level, seed, count, types) again finds the same tasks;
        a split that already holds other tasks is refused rather than mixed."""
        environment = self._environment(env)
        check_split_name(split)
        await asyncio.to_thread(environment.generate, split, level, seed, count, task_types)
        return self.refresh_split(env, split)

    def refresh_split(self, env: str, split: str) -> int:
        """Forgets the cached listing of a split (after tasks were written) and re-reads it."""
        self._splits.pop((env, split), None)
        return len(self._games(env, split))
