"""The env service's logic: task listing, sessions with a TTL and a cap, stepping, generation.

Opens are bounded: at most `max_pending_opens` CreateSession calls load at once; past that one
is refused at once (RESOURCE_EXHAUSTED with a retry hint: the recent mean time of an open), since
a queue behind busy workers only turns into deadlines that pass (64 opens behind 2 workers once
waited 279 s). An open that names a `request_id` is idempotent (AIP-155): a repeat gets the
first one's session, and the open runs on even when the first caller goes away, so its retry
finds the session instead of loading the game again.

Data roots: an env serves the splits of its data root (where GenerateTasks writes) and of its
read-only roots (a3t_env.config), one engine per root, each split from the one root that has it.
A split found in two roots is refused (FAILED_PRECONDITION naming both), never one of them
picked; so is generating a split that a read-only root holds. The path checks (a3t_env.paths)
hold per root: a split or task served from a root must resolve inside that root.

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
from pathlib import Path
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
from a3t_env.paths import check_split_dirs, check_task_id, check_task_ref

log = logging.getLogger(__name__)

_MAX_REQUEST_ID_CHARS = 64
# The retry hint is the mean time of recent opens (how soon a slot frees up), within these bounds.
_MIN_RETRY_SECONDS, _MAX_RETRY_SECONDS = 0.05, 30.0


class GameRunner(Protocol):
    async def open(
        self, session_id: str, env: str, task: TaskRecord, root: Path
    ) -> tuple[str, GameState]:
        """Loads `task` with the engine of `root` (the data root its split is served from)."""
        ...

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


@dataclass
class _Request:
    """An open made with a request_id: what was asked, and the open (running or done)."""

    asked: tuple[str, str, str | None, int | None]  # env, split, task_id, index
    opening: asyncio.Task[SessionStart]
    created: float


@dataclass(frozen=True)
class _Split:
    """A split as served: the data root it was found in and its tasks."""

    root: Path
    tasks: list[TaskRecord]


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_page_token: str
    total_size: int


def _describe(asked: tuple[str, str, str | None, int | None]) -> str:
    env, split, task_id, index = asked
    which = f"task_id {quote(task_id)}" if task_id is not None else f"index {index}"
    return f"env {quote(env)}, split {quote(split)}, {which}"


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
        self._splits: dict[tuple[str, str], _Split] = {}
        self._envs: dict[tuple[str, Path], Environment] = {}  # (env, data root) -> its engine
        self._background: set[asyncio.Task] = set()
        self._requests: dict[str, _Request] = {}  # request_id -> the open it made
        self._opening = 0  # opens pending or loading now
        self._open_seconds = 1.0  # moving mean of an open's duration (ALFWorld loads take 1-2 s)
        self._generating: dict[tuple[str, str], asyncio.Task[int]] = {}  # (env, split) -> run

    # --- tasks

    def _roots(self, env: str) -> tuple[Path, ...]:
        """A served env's data roots: its own (written to) first, then its read-only ones."""
        if env not in self._settings.envs:
            raise InvalidArgument(
                f"env {quote(env)} is not served here; this env service serves "
                f"{', '.join(self._settings.envs)}"
            )
        return (self._settings.env_root(env), *self._settings.read_only_roots(env))

    def _environment(self, env: str, root: Path) -> Environment:
        """The engine of an env on one of its roots (built on first use: importing one can take
        a second)."""
        if (env, root) not in self._envs:
            self._envs[env, root] = env_spec(env).environment(root)
        return self._envs[env, root]

    def _search(
        self, env: str, split: str, roots: tuple[Path, ...]
    ) -> tuple[list[_Split], list[str]]:
        """The split as found in each of `roots` that has it, and each other root's NotFound."""
        found, missing = [], []
        for root in roots:
            check_split_dirs(env, root, split)
            try:
                found.append(_Split(root, self._environment(env, root).list_tasks(split)))
            except NotFound as e:
                missing.append(str(e))
        return found, missing

    def _split(self, env: str, split: str) -> _Split:
        roots = self._roots(env)
        if not split:
            raise InvalidArgument("split must be set, e.g. 'valid_seen'")
        check_split_name(split)
        if (env, split) not in self._splits:
            # Listing reads the data once per split; tasks do not change while served
            # (generation writes a new split and refreshes it explicitly).
            found, missing = self._search(env, split, roots)
            if not found:
                raise NotFound("; and in a read-only root: ".join(missing))
            if len(found) > 1:
                own = self._settings.env_root(env)
                where = " and ".join(
                    f"{f.root} ({'its data root' if f.root == own else 'read-only'})" for f in found
                )
                raise FailedPrecondition(
                    f"split {quote(split)} of {env} is in more than one data root: {where}; the "
                    "server does not pick one: its operator must rename or remove all but one"
                )
            self._splits[env, split] = found[0]
        return self._splits[env, split]

    def _games(self, env: str, split: str) -> list[TaskRecord]:
        return self._split(env, split).tasks

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
        if task_id is not None:
            check_task_id(task_id)
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
        self,
        env: str,
        split: str,
        task_id: str | None = None,
        index: int | None = None,
        request_id: str = "",
    ) -> SessionStart:
        self.expire_idle()
        asked = (env, split, task_id, index)
        if request_id:
            if len(request_id) > _MAX_REQUEST_ID_CHARS:
                raise InvalidArgument(
                    f"request_id {quote(request_id)} is longer than {_MAX_REQUEST_ID_CHARS} "
                    "characters; send a UUID"
                )
            earlier = self._requests.get(request_id)
            if earlier is not None:
                if earlier.asked != asked:
                    raise InvalidArgument(
                        f"request_id {quote(request_id)} was already used for another "
                        f"CreateSession ({_describe(earlier.asked)}); make a new request_id for "
                        "each open and reuse it only to retry that same open"
                    )
                # Shielded: a repeat that goes away must not cancel the first caller's open.
                return await asyncio.shield(earlier.opening)
        record = self._find(env, split, task_id, index)
        root = self._split(env, split).root
        check_task_ref(
            env,
            root,
            record.ref,
            "task_id" if task_id is not None else "index",
            task_id if task_id is not None else str(index),
        )
        if len(self._sessions) >= self._settings.max_sessions:
            raise ResourceExhausted(
                f"{len(self._sessions)} sessions are open, the limit (max_sessions); close "
                "finished sessions or retry after idle ones expire"
            )
        limit = self._settings.max_pending_opens()
        if self._opening >= limit:
            retry = min(max(self._open_seconds, _MIN_RETRY_SECONDS), _MAX_RETRY_SECONDS)
            raise ResourceExhausted(
                f"{self._opening} opens are pending, the most this server takes at once "
                f"(max_opens_per_worker x workers = {limit}); retry in {retry:.2f}s",
                retry_after_seconds=retry,
            )
        # Reserved before any await, so that concurrent creates respect both limits.
        placeholder = _Session(str(uuid.uuid4()), env, _task(env, record), (), self._clock())
        self._sessions[placeholder.session_id] = placeholder
        self._opening += 1
        metrics.OPENS_PENDING.set(self._opening)
        if not request_id:
            return await self._open(placeholder, record, root)
        # The open runs as its own task: a caller whose deadline passes goes away, the open
        # finishes, and the caller's retry (same request_id) gets its session.
        opening = asyncio.get_running_loop().create_task(self._open(placeholder, record, root))
        self._requests[request_id] = _Request(asked, opening, self._clock())
        opening.add_done_callback(lambda done: self._forget_failed(request_id, done))
        return await asyncio.shield(opening)

    def _forget_failed(self, request_id: str, opening: asyncio.Task[SessionStart]) -> None:
        """An open that failed is not remembered: a retry with its request_id tries again."""
        if opening.cancelled() or opening.exception() is not None:
            entry = self._requests.get(request_id)
            if entry is not None and entry.opening is opening:
                del self._requests[request_id]

    async def _open(self, placeholder: _Session, record: TaskRecord, root: Path) -> SessionStart:
        """Loads the reserved session's game; frees the reservation either way."""
        session_id, env = placeholder.session_id, placeholder.env
        start = time.perf_counter()
        try:
            instruction, state = await self._runner.open(session_id, env, record, root)
        except BaseException:
            self._sessions.pop(session_id, None)
            raise
        finally:
            self._opening -= 1
            metrics.OPENS_PENDING.set(self._opening)
        self._open_seconds = 0.8 * self._open_seconds + 0.2 * (time.perf_counter() - start)
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
        the server's reaper task. Also forgets request ids older than the TTL whose session has
        ended (a retry comes within seconds; the TTL bounds how many are kept)."""
        cutoff = self._clock() - self._settings.session_ttl_seconds
        for request_id, entry in list(self._requests.items()):
            if entry.created < cutoff and entry.opening.done():
                start = entry.opening.result()  # failed opens were dropped when they failed
                if start.session_id not in self._sessions:
                    del self._requests[request_id]
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
        a split that already holds other tasks is refused rather than mixed, and so is a split
        of a read-only root (never written to, never shadowed)."""
        own, *read_only = self._roots(env)
        environment = self._environment(env, own)
        check_split_name(split)
        check_split_dirs(env, own, split)
        found, _ = self._search(env, split, tuple(read_only))
        if found:
            raise FailedPrecondition(
                f"split {quote(split)} of {env} is in the read-only root {found[0].root}; "
                "GenerateTasks writes only to the env's data root and never a split of a "
                "read-only one: pick another split name"
            )
        # One generation per split at a time. A client whose deadline passed retries while its
        # first request still writes the split (a thread cannot be stopped): the retry waits for
        # it, then finds the same tasks, rather than seeing half a split as "other tasks".
        key = (env, split)
        while (running := self._generating.get(key)) is not None:
            await asyncio.wait({running})  # never cancels the other caller's run
        run = asyncio.get_running_loop().create_task(
            asyncio.to_thread(environment.generate, split, level, seed, count, task_types)
        )
        self._generating[key] = run
        run.add_done_callback(
            lambda done: self._generating.pop(key) if self._generating.get(key) is done else None
        )
        await asyncio.shield(run)
        return self.refresh_split(env, split)

    def refresh_split(self, env: str, split: str) -> int:
        """Forgets the cached listing of a split (after tasks were written) and re-reads it."""
        self._splits.pop((env, split), None)
        return len(self._games(env, split))
