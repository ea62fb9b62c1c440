"""A pool of worker processes that play games of any environment, with an asyncio API.

Engines (the TextWorld engine, WebShop's pages) are CPU-bound Python and hold the GIL, so one env
service uses N cores by running games in N worker processes ('spawn' context: the server runs
grpc.aio and must never be forked). A session is pinned to one worker, chosen least-loaded when
it opens. Each worker keeps an LRU cache of idle loaded games so that playing the same game again
skips the load (~1 s for ALFWorld). The pool knows no environment: a worker builds an engine
per env and data root from the plugin registry (a3t.envs), and loads a task by its `TaskRecord`
with the engine of the root its split is served from (the env's data root unless the open names
one of its read-only roots).

    pool = GamePool(workers=2, data_roots={"alfworld": Path("var/envs/alfworld")})
    await pool.start()
    instruction, state = await pool.open(session_id, "alfworld", task_record)
    state = await pool.step(session_id, "go to desk 1")
    await pool.close(session_id)
    await pool.shutdown()

`GamePool(workers=0)` plays in-process on one background thread (for debugging).

Recycling: the ALFWorld/TextWorld engine leaks a few MiB per game load, so a worker that has
loaded `recycle_after_loads` games, or whose resident memory passed `recycle_above_rss_mib`, is
recycled: its slot gets a fresh process at once (new opens go there, queued while it imports the
engine, so opens never stall even when every worker is recycling at the same time), and the old
process drains: it takes no new sessions, keeps playing the ones it has until they close or
expire, and is stopped when the last one ends. So a slot briefly has two processes.

Errors: a worker's A3tError comes back with its type; any other exception as A3tError; a worker
that dies fails its calls and its sessions with Unavailable and is replaced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a3t.envs import env_spec
from a3t.envs.base import Environment, Game, GameState, TaskRecord
from a3t.errors import A3tError, Aborted, AlreadyExists, NotFound, Unavailable
from a3t_env import metrics

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0  # importing textworld + alfworld takes ~1-2 s; a loaded box is slower
# (env, data root, split, task ref): what identifies a loaded game for reuse. A ref alone is not
# enough: WebShop's is a goal index, the same in every split and root.
_GameKey = tuple[str, str, str, str]
_MAX_RESTART_DELAY_S = 30.0
_MIB = 1024 * 1024


@dataclass(frozen=True)
class WorkerUsage:
    """What a worker reports with each open: games it has loaded so far and its resident memory."""

    loads: int
    rss_bytes: int


def recycle_reason(usage: WorkerUsage, max_loads: int, max_rss_mib: int) -> str | None:
    """Why a worker with this usage must be recycled ("loads" or "rss"), or None; 0 = no limit."""
    if max_loads and usage.loads >= max_loads:
        return "loads"
    if max_rss_mib and usage.rss_bytes >= max_rss_mib * _MIB:
        return "rss"
    return None


def _rss_bytes() -> int:
    """This process's resident memory now (Linux: /proc; the images and pods run Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- what runs inside a worker ---------------------------------------------------------------


class _GameHost:
    """The sessions of one worker, its engines (one per env and data root, built on first use)
    and its LRU cache of idle games (keyed by env, root, split and task ref). `roots`: each env's
    data roots, its own first."""

    def __init__(self, cache_size: int, roots: Mapping[str, Sequence[str]]):
        self._cache_size = cache_size
        self._roots = {env: tuple(where) for env, where in roots.items()}
        self._envs: dict[tuple[str, str], Environment] = {}
        self._idle: OrderedDict[_GameKey, list[Game]] = OrderedDict()
        self._idle_count = 0
        self._sessions: dict[str, tuple[_GameKey, Game]] = {}
        self._loads = 0  # games loaded (cache hits excluded): what the engine's leak grows with

    def handle(self, op: str, args: tuple[Any, ...]) -> Any:
        return getattr(self, f"op_{op}")(*args)

    def environment(self, env: str, root: str) -> Environment:
        if (env, root) not in self._envs:
            if env not in self._roots:
                raise NotFound(f"env {env!r} is not served by this pool")
            if root not in self._roots[env]:
                raise NotFound(f"{root} is not a data root of env {env!r} in this pool")
            self._envs[env, root] = env_spec(env).environment(Path(root))
        return self._envs[env, root]

    def op_open(
        self, session_id: str, env: str, task: TaskRecord, root: str
    ) -> tuple[str, GameState, WorkerUsage]:
        if session_id in self._sessions:
            raise AlreadyExists(f"session {session_id} is already open")
        key = (env, root, task.split, task.ref)
        game = self._take_idle(key)
        if game is None:
            self._loads += 1  # counted before loading: a load that fails may leak as well
            game = self.environment(env, root).load(task)
        # Only a game whose reset succeeded becomes a session; a failing one is dropped.
        instruction, state = game.reset()
        self._sessions[session_id] = (key, game)
        return instruction, state, WorkerUsage(self._loads, _rss_bytes())

    def op_warm_up(self, env: str) -> None:
        """Imports what the env's engine needs to play (once per env: its roots share them)."""
        self.environment(env, self._roots[env][0]).warm_up()

    def op_reset(self, session_id: str) -> tuple[str, GameState]:
        return self._session(session_id)[1].reset()

    def op_step(self, session_id: str, action: str) -> GameState:
        return self._session(session_id)[1].step(action)

    def op_close(self, session_id: str) -> None:
        entry = self._sessions.pop(session_id, None)
        if entry is not None:
            self._put_idle(*entry)

    def _session(self, session_id: str) -> tuple[_GameKey, Game]:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise NotFound(f"session {session_id} is not open on this worker") from None

    def _take_idle(self, key: _GameKey) -> Game | None:
        games = self._idle.get(key)
        if not games:
            return None
        game = games.pop()
        if not games:
            del self._idle[key]
        self._idle_count -= 1
        return game

    def _put_idle(self, key: _GameKey, game: Game) -> None:
        self._idle.setdefault(key, []).append(game)
        self._idle.move_to_end(key)
        self._idle_count += 1
        while self._idle_count > self._cache_size:
            oldest = next(iter(self._idle))
            self._idle[oldest].pop(0)
            if not self._idle[oldest]:
                del self._idle[oldest]
            self._idle_count -= 1


def _wire_error(exc: BaseException) -> A3tError:
    """The exception to hand to the caller: A3tErrors keep their type, anything else is wrapped."""
    if isinstance(exc, A3tError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # a subclass with a custom __init__ may not round-trip
            return A3tError(str(exc))
    logger.error("env worker error", exc_info=exc)
    return A3tError(f"env engine error: {type(exc).__name__}: {exc}")


def _worker_main(
    requests: multiprocessing.Queue,
    replies: multiprocessing.connection.Connection,
    cache_size: int,
    roots: dict[str, tuple[str, ...]],
    log_level: int,
    index: int,
) -> None:
    """Entry point of a worker process: serve (req_id, op, args) requests until terminated.

    A worker holds nothing worth saving (games are reloaded from disk), so the parent stops it
    with SIGTERM rather than a message that would wait behind the requests already queued.
    """
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log_format = f"%(asctime)s %(levelname)s env-worker-{index} %(name)s: %(message)s"
    logging.basicConfig(level=log_level, format=log_format)
    host = _GameHost(cache_size, roots)
    # Import the engines before saying ready, so start() returns with warm workers.
    for env in roots:
        host.op_warm_up(env)

    replies.send((None, True, b""))  # ready
    parent = multiprocessing.parent_process()
    while True:
        try:
            message = requests.get(timeout=1.0)
        except queue.Empty:
            # The parent was killed without shutting us down: do not linger as an orphan.
            if parent is not None and not parent.is_alive():
                return
            continue
        req_id, op, args = message
        try:
            ok, value = True, host.handle(op, args)
        except Exception as e:
            ok, value = False, _wire_error(e)
        replies.send((req_id, *_pack(ok, value)))


def _pack(ok: bool, value: Any) -> tuple[bool, bytes]:
    """Pickle a reply's value apart from its envelope, so that a value that cannot be pickled
    here or unpickled there fails its one call instead of the reply channel."""
    try:
        return ok, pickle.dumps(value)
    except Exception as e:
        return False, pickle.dumps(A3tError(f"env worker reply could not be pickled: {e}"))


# --- the parent's handles on workers ---------------------------------------------------------


class _ProcessWorker:
    """One worker process, its request queue, and a thread that hands replies to the event loop."""

    def __init__(
        self,
        index: int,
        cache_size: int,
        roots: dict[str, tuple[str, ...]],
        loop: asyncio.AbstractEventLoop,
        on_exit: Callable[[_ProcessWorker], None],
    ) -> None:
        self.index = index
        self.sessions: set[str] = set()
        self.alive = False
        self.draining = False  # recycled: takes no new sessions, stops after its last one
        self.rss_bytes = 0  # as last reported with an open
        self.ready: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._on_exit = on_exit
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        ctx = multiprocessing.get_context("spawn")
        self._requests: multiprocessing.Queue = ctx.Queue()
        self._replies, child_end = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_worker_main,
            args=(
                self._requests,
                child_end,
                cache_size,
                roots,
                logging.getLogger().level,
                index,
            ),
            name=f"a3t-env-worker-{index}",
            daemon=True,
        )
        self._child_end = child_end

    def start(self) -> None:
        """Start the process (blocking for a few ms: call from a thread)."""
        self.process.start()
        # Drop our copy of the child's end so its death reads as EOF here.
        self._child_end.close()
        self.alive = True
        threading.Thread(target=self._pump, name=f"{self.process.name}-pump", daemon=True).start()

    async def call(self, op: str, *args: Any) -> Any:
        if not self.alive:
            raise Unavailable(f"env worker {self.index} is not running; retry shortly")
        req_id = next(self._ids)
        future = self._loop.create_future()
        self._pending[req_id] = future
        try:
            try:
                self._requests.put((req_id, op, args))  # never blocks: a feeder thread writes
            except ValueError:  # the queue was closed by terminate() a moment ago
                raise Unavailable(f"env worker {self.index} has stopped; retry") from None
            return await future
        finally:
            self._pending.pop(req_id, None)

    def send_nowait(self, op: str, *args: Any) -> None:
        """Fire and forget (the reply is dropped): used to clean up after a cancelled open."""
        if self.alive:
            self._requests.put((next(self._ids), op, args))

    def terminate(self) -> None:
        """Stop the process now and reap it (blocking: run in a thread)."""
        self.alive = False
        if self.process.pid is None:  # never started
            return
        self.process.terminate()
        self.process.join(5.0)
        if self.process.is_alive():
            logger.warning("env worker %d ignored SIGTERM for 5 s; killing it", self.index)
            self.process.kill()
            self.process.join()
        self._requests.cancel_join_thread()
        self._requests.close()

    def fail_pending(self, error: A3tError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # retrieved: start() may not be waiting on it

    def _pump(self) -> None:
        """Thread: read replies until the process ends, then report the exit to the loop."""
        handles: list[multiprocessing.connection.Connection | int] = [
            self._replies,
            self.process.sentinel,
        ]
        while True:
            ready = multiprocessing.connection.wait(handles)
            if self._replies in ready:
                try:
                    reply = self._replies.recv()
                except (EOFError, OSError):
                    break
                self._post(self._deliver, reply)
            elif self.process.sentinel in ready:
                break
        self.process.join(1.0)  # reap it, so that exitcode is known when the loop logs it
        self._post(self._exited)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        # RuntimeError: the event loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _deliver(self, reply: tuple[int | None, bool, bytes]) -> None:
        req_id, ok, payload = reply
        if req_id is None:  # the worker's "ready"
            if not self.ready.done():
                self.ready.set_result(None)
            return
        future = self._pending.pop(req_id, None)
        if future is None or future.done():  # fire-and-forget, or the caller gave up
            return
        try:
            value = pickle.loads(payload)
        except Exception as e:
            ok, value = False, A3tError(f"env worker reply could not be unpickled: {e}")
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _exited(self) -> None:
        self.alive = False
        self._on_exit(self)


class _ThreadWorker:
    """workers=0: games played in this process on one thread (the engine is not thread-safe)."""

    def __init__(self, cache_size: int, roots: dict[str, tuple[str, ...]]):
        self.index = 0
        self.sessions: set[str] = set()
        self.alive = True
        self.draining = False  # never: the server's own process cannot be swapped
        self._host = _GameHost(cache_size, roots)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="a3t-env-game")

    async def call(self, op: str, *args: Any) -> Any:
        future = self._executor.submit(self._run, op, args)
        return await asyncio.wrap_future(future)

    def send_nowait(self, op: str, *args: Any) -> None:
        self._executor.submit(self._run, op, args)

    def shutdown(self) -> None:
        self.alive = False
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, op: str, args: tuple[Any, ...]) -> Any:
        try:
            return self._host.handle(op, args)
        except Exception as e:
            raise _wire_error(e) from None


# --- the pool --------------------------------------------------------------------------------


class GamePool:
    """Game sessions spread over worker processes; every method is a coroutine for asyncio.
    `data_roots` names the environments the workers serve and where each keeps its data;
    `read_only_roots` the other roots whose splits an env serves (a3t_env.config)."""

    def __init__(
        self,
        workers: int,
        data_roots: Mapping[str, Path],
        cache_size: int = 16,
        recycle_after_loads: int = 0,
        recycle_above_rss_mib: int = 0,
        read_only_roots: Mapping[str, Sequence[Path]] | None = None,
    ):
        if workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = in-process), got {workers}")
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        if recycle_after_loads < 0 or recycle_above_rss_mib < 0:
            raise ValueError(
                "recycle_after_loads and recycle_above_rss_mib must be >= 0 (0 = off), got "
                f"{recycle_after_loads} and {recycle_above_rss_mib}"
            )
        self.workers = workers
        self.cache_size = cache_size
        self.recycle_after_loads = recycle_after_loads
        self.recycle_above_rss_mib = recycle_above_rss_mib
        read_only = read_only_roots or {}
        stray = sorted(set(read_only) - set(data_roots))
        if stray:
            raise ValueError(f"read_only_roots names envs without a data root: {stray}")
        # Each env's roots, its own data root first: what the workers build engines on.
        self.roots = {
            env: (str(root), *(str(r) for r in read_only.get(env, ())))
            for env, root in data_roots.items()
        }
        self._workers: list[_ProcessWorker | _ThreadWorker] = []  # one per slot, taking sessions
        self._draining: set[_ProcessWorker] = set()  # recycled, playing their last sessions
        self._session_worker: dict[str, _ProcessWorker | _ThreadWorker] = {}
        self._session_path: dict[str, str] = {}
        self._lost: dict[str, str] = {}  # session id -> why (its worker died)
        self._last_worker_of: dict[str, int] = {}  # path -> worker that last closed a session on it
        self._restarts: dict[int, int] = {}  # worker index -> deaths since it was last ready
        self._tasks: set[asyncio.Task[None]] = set()  # replacements under way (keep references)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start the workers and wait until each has imported the engine."""
        self._loop = asyncio.get_running_loop()
        if self.workers == 0:
            worker = _ThreadWorker(self.cache_size, self.roots)
            self._workers = [worker]
            for env in self.roots:
                await worker.call("warm_up", env)
            return
        started = [self._new_worker(i) for i in range(self.workers)]
        self._workers = list(started)
        await asyncio.gather(*(asyncio.to_thread(w.start) for w in started))
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                await asyncio.gather(*(w.ready for w in started))
        except (TimeoutError, A3tError) as e:
            await self.shutdown()
            raise Unavailable(f"env workers failed to start: {e or 'timed out'}") from e
        logger.info("env game pool started: %d worker processes", self.workers)

    async def open(
        self, session_id: str, env: str, task: TaskRecord, root: Path | None = None
    ) -> tuple[str, GameState]:
        """Load (or reuse) the game of `task`, start an episode: (instruction, first state).
        `root`: the data root its split is served from (default: the env's own)."""
        if session_id in self._session_worker or session_id in self._lost:
            raise AlreadyExists(f"session {session_id} is already open")
        if env not in self.roots:
            raise NotFound(f"env {env!r} is not served by this pool")
        where = self.roots[env][0] if root is None else str(root)
        key = f"{env}\0{where}\0{task.split}\0{task.ref}"
        worker = self._pick_worker(key)
        self._session_worker[session_id] = worker
        self._session_path[session_id] = key
        worker.sessions.add(session_id)
        try:
            instruction, state, usage = await worker.call("open", session_id, env, task, where)
        except asyncio.CancelledError:
            # The worker may open it anyway; make sure it does not stay there forever.
            self._forget(session_id)
            worker.send_nowait("close", session_id)
            self._retire_if_drained(worker)
            raise
        except BaseException:
            self._forget(session_id)
            self._retire_if_drained(worker)
            raise
        if isinstance(worker, _ProcessWorker):
            worker.rss_bytes = usage.rss_bytes
            self._show_memory()
            reason = recycle_reason(usage, self.recycle_after_loads, self.recycle_above_rss_mib)
            if reason is not None and not worker.draining:
                self._recycle(worker, reason, usage)
        return instruction, state

    async def reset(self, session_id: str) -> tuple[str, GameState]:
        """Start a new episode of the session's game (no reload): (instruction, first state)."""
        return await self._worker_of(session_id).call("reset", session_id)

    async def step(self, session_id: str, action: str) -> GameState:
        return await self._worker_of(session_id).call("step", session_id, action)

    async def close(self, session_id: str) -> None:
        """End a session; its game goes back to the worker's cache. A lost session just goes."""
        if self._lost.pop(session_id, None) is not None:
            return
        worker = self._worker_of(session_id)
        path = self._session_path[session_id]
        self._forget(session_id)
        try:
            await worker.call("close", session_id)
        except Unavailable:
            return  # the worker died: the session is gone either way
        if worker.draining:
            self._retire_if_drained(worker)
        else:
            self._last_worker_of[path] = worker.index

    async def shutdown(self) -> None:
        """Stop every worker at once; calls still pending fail with Unavailable."""
        self._closing = True
        self._stopping.set()
        # Let replacements under way finish starting, so that every process is stopped below.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        workers, self._workers = [*self._workers, *self._draining], []
        self._draining = set()
        for w in workers:
            if isinstance(w, _ThreadWorker):
                await asyncio.to_thread(w.shutdown)
        procs = [w for w in workers if isinstance(w, _ProcessWorker)]
        await asyncio.gather(*(asyncio.to_thread(w.terminate) for w in procs))
        for w in procs:
            w.fail_pending(Unavailable("the env game pool is shutting down"))
        self._session_worker.clear()
        self._session_path.clear()
        self._lost.clear()

    def session_count(self) -> int:
        """Sessions open now (lost ones excluded)."""
        return len(self._session_worker)

    # --- internals ---

    def _new_worker(self, index: int) -> _ProcessWorker:
        assert self._loop is not None
        return _ProcessWorker(index, self.cache_size, self.roots, self._loop, self._worker_exited)

    def _pick_worker(self, path: str) -> _ProcessWorker | _ThreadWorker:
        if self._closing:
            raise Unavailable("the env game pool is shut down")
        alive = [w for w in self._workers if w.alive and not w.draining]
        if not alive:
            raise Unavailable("no env worker is running (not started, restarting or shut down)")
        least = min(len(w.sessions) for w in alive)
        candidates = [w for w in alive if len(w.sessions) == least]
        # Among equally loaded workers prefer the one likely to hold an idle copy of this game.
        preferred = self._last_worker_of.get(path)
        for w in candidates:
            if w.index == preferred:
                return w
        return candidates[0]

    def _worker_of(self, session_id: str) -> _ProcessWorker | _ThreadWorker:
        worker = self._session_worker.get(session_id)
        if worker is not None:
            return worker
        if self._closing:
            raise Unavailable("the env game pool is shut down")
        why = self._lost.get(session_id)
        if why is not None:
            # ABORTED, not UNAVAILABLE: retrying the call cannot bring the session back, and
            # generic retry policies loop on UNAVAILABLE.
            raise Aborted(f"session {session_id} was lost: {why}; open a new session")
        raise NotFound(f"session {session_id} is not open in this pool")

    def _forget(self, session_id: str) -> None:
        worker = self._session_worker.pop(session_id, None)
        if worker is not None:
            worker.sessions.discard(session_id)
        self._session_path.pop(session_id, None)
        self._lost.pop(session_id, None)

    def _recycle(self, worker: _ProcessWorker, reason: str, usage: WorkerUsage) -> None:
        """Give the worker's slot a fresh process now and let the old one drain.

        The successor is started here, on the event loop (spawning takes a few ms), rather than
        in a thread: until it is alive the slot would have no worker taking opens. Opens sent to
        it wait in its queue while it imports the engine."""
        logger.info(
            "recycling env worker %d (%s: %d loads, %.0f MiB resident) with %d live sessions",
            worker.index,
            reason,
            usage.loads,
            usage.rss_bytes / _MIB,
            len(worker.sessions),
        )
        metrics.WORKER_RECYCLES.labels(reason=reason).inc()
        worker.draining = True
        self._draining.add(worker)
        successor = self._new_worker(worker.index)
        self._workers[worker.index] = successor
        successor.start()
        self._show_memory()
        self._background(self._await_ready(successor))
        self._retire_if_drained(worker)

    def _retire_if_drained(self, worker: _ProcessWorker | _ThreadWorker) -> None:
        """Stop a recycled worker once its last session has ended (never while one is live)."""
        if not isinstance(worker, _ProcessWorker) or not worker.draining:
            return
        if worker.alive and not worker.sessions:
            logger.info("env worker %d drained; stopping the old process", worker.index)
            worker.alive = False  # at once: no second stop is scheduled meanwhile
            # Its exit then reaches _worker_exited, which forgets it.
            self._background(asyncio.to_thread(worker.terminate))

    def _show_memory(self) -> None:
        sizes = [
            w.rss_bytes
            for w in (*self._workers, *self._draining)
            if isinstance(w, _ProcessWorker) and w.alive
        ]
        metrics.WORKERS_RSS_BYTES.set(sum(sizes))
        metrics.WORKER_RSS_MAX_BYTES.set(max(sizes, default=0))
        metrics.WORKERS_DRAINING.set(len(self._draining))

    def _background(self, work: Any) -> None:
        """Run a coroutine as a task the pool keeps a reference to (shutdown waits for it)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _worker_exited(self, worker: _ProcessWorker) -> None:
        """Loop callback: a worker process ended. Fail its work; replace it unless closing (or it
        was recycled: its slot already has a successor)."""
        if self._closing:
            worker.fail_pending(Unavailable("the env game pool is shutting down"))
            return
        if worker.draining:
            self._draining.discard(worker)
            worker.fail_pending(Unavailable(f"env worker {worker.index} was recycled; retry"))
            if worker.sessions:  # it died while still playing: its sessions are lost
                why = f"recycled env worker {worker.index} died ({worker.process.exitcode})"
                logger.error("%s with %d sessions", why, len(worker.sessions))
                self._lose_sessions(worker, why)
            self._show_memory()
            return
        was_ready = worker.ready.done() and worker.ready.exception() is None
        why = f"env worker {worker.index} died (exit code {worker.process.exitcode})"
        logger.error("%s with %d sessions; starting a replacement", why, len(worker.sessions))
        worker.fail_pending(Unavailable(f"{why}; retry"))
        self._lose_sessions(worker, why)
        worker.rss_bytes = 0
        self._show_memory()
        deaths = 0 if was_ready else self._restarts.get(worker.index, 0) + 1
        self._restarts[worker.index] = deaths
        self._background(self._replace(worker.index, deaths))

    def _lose_sessions(self, worker: _ProcessWorker, why: str) -> None:
        for session_id in worker.sessions:
            self._session_worker.pop(session_id, None)
            self._session_path.pop(session_id, None)
            self._lost[session_id] = why
        worker.sessions.clear()

    async def _replace(self, index: int, deaths: int) -> None:
        if deaths:
            # A worker that keeps dying before it is ready (a broken install) is retried slowly.
            try:
                async with asyncio.timeout(min(_MAX_RESTART_DELAY_S, 2.0**deaths)):
                    await self._stopping.wait()
            except TimeoutError:
                pass
        if self._closing:
            return
        worker = self._new_worker(index)
        self._workers[index] = worker
        await asyncio.to_thread(worker.start)
        await self._await_ready(worker)

    async def _await_ready(self, worker: _ProcessWorker) -> None:
        if self._closing:
            return  # shutdown() waits for this task, then stops the worker with the others
        try:
            await worker.ready
        except A3tError:
            return  # it died; _worker_exited already scheduled the next try
        logger.info("env worker %d replaced", worker.index)
