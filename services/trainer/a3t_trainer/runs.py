"""Training runs as long-running resources: create, get, watch, cancel, list (AIP-151 style).

The trainer's core: no grpc here, plain values in and out, a3t.errors for bad input.

- `create` validates everything it can without loading a model (fields, the dataset parses and is
  not empty, the base model is known, the output is free, the init adapter matches) and returns
  at once with the run QUEUED; it is idempotent per request_id. Bad input leaves nothing behind.
- One run trains at a time, in a worker thread (`train.train`), so the event loop never blocks;
  cancel sets a flag the recipe checks between steps.
- Every run is a JSON record under `<state_dir>/runs/<run_id>/run.json`, next to its epoch
  checkpoints. A restarted trainer reloads the records and resumes QUEUED and RUNNING runs, the
  latter from their last epoch checkpoint (a run whose trainer died MAX_RESTARTS times fails
  instead). SIGTERM stops the training thread at the next step and puts the run back to QUEUED,
  so the next start resumes it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a3t.artifacts import MANIFEST, local_path, read_manifest, resolve_under
from a3t.compose import read_dataset
from a3t.errors import (
    A3tError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    quote,
)
from a3t.paging import Page, newest_first
from a3t_trainer import metrics
from a3t_trainer.config import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_LORA_ALPHA,
    DEFAULT_LORA_RANK,
    DEFAULT_NEGATIVE_PROB_FLOOR,
    DEFAULT_TARGET_MODULES,
    EPOCHS_FIRST_ROUND,
    EPOCHS_LATER_ROUNDS,
    TrainerSettings,
)
from a3t_trainer.train import Cancelled, Progress, TrainResult, TrainSpec, train

log = logging.getLogger(__name__)

RUN_RECORD = "run.json"
# A run whose trainer died this many times while it trained is failed instead of resumed again
# (a run that kills its process, e.g. out of memory, must not crash-loop the service).
MAX_RESTARTS = 3
# Progress is written to disk at most this often (every epoch end is written regardless).
PERSIST_EVERY_SECONDS = 2.0
# CancelTrainingRun waits this long for the training thread to reach a step boundary.
CANCEL_WAIT_SECONDS = 10.0


class RunState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class AdapterOutput:
    name: str
    uri: str
    version: int
    base_model: str


@dataclass(frozen=True)
class Run:
    run_id: str
    request_id: str
    spec: TrainSpec
    state: RunState = RunState.QUEUED
    progress: Progress = field(default_factory=Progress)
    output: AdapterOutput | None = None
    error_message: str = ""
    create_time_seconds: float = 0.0
    end_time_seconds: float = 0.0
    restarts: int = 0  # times a trainer process died while this run trained

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        spec = dict(data["spec"])
        spec["lora_target_modules"] = tuple(spec["lora_target_modules"])
        return cls(
            **{
                **data,
                "spec": TrainSpec(**spec),
                "state": RunState(data["state"]),
                "progress": Progress(**data["progress"]),
                "output": AdapterOutput(**data["output"]) if data["output"] else None,
            }
        )


# --- validation


def resolve_spec(spec: TrainSpec, settings: TrainerSettings) -> TrainSpec:
    """Fills a request's zero values with the defaults; InvalidArgument lists every bad field."""
    problems = []
    for name in ("base_model", "dataset_uri", "output_uri", "adapter_name"):
        if not getattr(spec, name).strip():
            problems.append(f"{name} must be set")
    if spec.adapter_version < 0:
        problems.append(f"adapter_version must be >= 0, got {spec.adapter_version}")
    if spec.epochs < 0:
        problems.append(
            f"epochs must be >= 0 (0 = {EPOCHS_FIRST_ROUND} in round 0, else "
            f"{EPOCHS_LATER_ROUNDS}), got {spec.epochs}"
        )
    if not math.isfinite(spec.learning_rate) or spec.learning_rate < 0:
        problems.append(
            f"learning_rate must be >= 0 (0 = {DEFAULT_LEARNING_RATE}), got {spec.learning_rate}"
        )
    if spec.lora_rank < 0:
        problems.append(f"lora_rank must be >= 0 (0 = {DEFAULT_LORA_RANK}), got {spec.lora_rank}")
    if spec.lora_alpha < 0:
        problems.append(
            f"lora_alpha must be >= 0 (0 = {DEFAULT_LORA_ALPHA}), got {spec.lora_alpha}"
        )
    if any(not m.strip() for m in spec.lora_target_modules):
        problems.append("lora_target_modules must not hold empty names")
    if spec.max_seq_tokens < 0 or 0 < spec.max_seq_tokens < 16:
        problems.append(
            f"max_seq_tokens must be 0 (trainer default) or >= 16, got {spec.max_seq_tokens}"
        )
    if not (0 <= spec.negative_prob_floor < 1):
        problems.append(
            f"negative_prob_floor must be in [0, 1) (0 = "
            f"{DEFAULT_NEGATIVE_PROB_FLOOR}), got {spec.negative_prob_floor}"
        )
    if spec.average_last_epochs < 0:
        problems.append(f"average_last_epochs must be >= 0, got {spec.average_last_epochs}")
    if spec.round < 0:
        problems.append(f"round must be >= 0, got {spec.round}")
    epochs = spec.epochs or (EPOCHS_FIRST_ROUND if spec.round == 0 else EPOCHS_LATER_ROUNDS)
    if spec.average_last_epochs > epochs:
        problems.append(
            f"average_last_epochs ({spec.average_last_epochs}) must not exceed epochs ({epochs})"
        )
    if problems:
        raise InvalidArgument("invalid training spec: " + "; ".join(problems))
    return dataclasses.replace(
        spec,
        epochs=epochs,
        learning_rate=spec.learning_rate or DEFAULT_LEARNING_RATE,
        lora_rank=spec.lora_rank or DEFAULT_LORA_RANK,
        lora_alpha=spec.lora_alpha or DEFAULT_LORA_ALPHA,
        lora_target_modules=spec.lora_target_modules or DEFAULT_TARGET_MODULES,
        negative_prob_floor=spec.negative_prob_floor or DEFAULT_NEGATIVE_PROB_FLOOR,
        max_seq_tokens=spec.max_seq_tokens or settings.max_seq_tokens,
    )


def check_base_model(name: str) -> None:
    """FailedPrecondition unless `name` loads offline: the packaged SmolLM2, a checkpoint
    directory, or a hub id already in the local cache."""
    from a3t.inference import models

    if name in (models.SMOLLM2, "smollm2"):
        try:
            models.find_smollm2_gguf()
        except A3tError as exc:
            raise FailedPrecondition(f"base_model {quote(name)}: {exc}") from exc
        return
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FailedPrecondition(
                f"base_model {quote(name)} is a directory without config.json; point it at a "
                "transformers checkpoint (save_pretrained output)"
            )
        return
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise FailedPrecondition(
            f"base_model {quote(name)} is unknown: not {models.SMOLLM2!r}, not a local checkpoint "
            "directory, and not in the local Hugging Face cache (the hub cannot be reached from "
            "the trainer)"
        ) from exc


def check_inputs(spec: TrainSpec, artifact_root: Path | None = None) -> int:
    """Checks the files a run needs; returns the dataset's example count. Writes nothing.
    With an artifact root, each path must lie inside it (a3t.artifacts.resolve_under)."""
    for name in ("dataset_uri", "output_uri", "init_adapter_uri"):
        if getattr(spec, name):
            resolve_under(getattr(spec, name), artifact_root, name)
    dataset = local_path(spec.dataset_uri)
    try:
        if not dataset.is_file():
            raise InvalidArgument(
                f"dataset_uri {quote(spec.dataset_uri)} does not exist or is not a file; write "
                "the weighted-trajectory JSONL there first"
            )
        items = read_dataset(dataset)  # InvalidArgument naming the line that does not parse
    except OSError as exc:  # a name too long, a directory that cannot be read, ...
        raise InvalidArgument(
            f"dataset_uri {quote(spec.dataset_uri)} cannot be read: {exc.strerror}"
        ) from exc
    if not items:
        raise InvalidArgument(f"dataset_uri {quote(spec.dataset_uri)} holds no trajectories")
    if all(item.weight == 0 for item in items):
        raise InvalidArgument(
            f"dataset_uri {quote(spec.dataset_uri)}: every weight is 0, so there is nothing to "
            "learn"
        )
    check_base_model(spec.base_model)
    output = local_path(spec.output_uri)
    try:
        output.exists()
    except OSError as exc:
        raise InvalidArgument(
            f"output_uri {quote(spec.output_uri)} cannot be used: {exc.strerror}"
        ) from exc
    if (output / MANIFEST).exists():
        raise FailedPrecondition(
            f"output_uri {quote(spec.output_uri)} already holds a finished adapter "
            "(manifest.json); choose a new directory, adapters are never overwritten"
        )
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise FailedPrecondition(
            f"output_uri {quote(spec.output_uri)} exists and is not an empty directory; choose a "
            "new directory"
        )
    if spec.init_adapter_uri:
        try:
            manifest = read_manifest(local_path(spec.init_adapter_uri))
        except (NotFound, FailedPrecondition) as exc:
            raise FailedPrecondition(f"init_adapter_uri: {exc}") from exc
        if manifest.get("base_model") != spec.base_model:
            raise FailedPrecondition(
                f"init_adapter_uri {quote(spec.init_adapter_uri)} was trained on "
                f"{manifest.get('base_model')!r}, not base_model {quote(spec.base_model)}; "
                "continue from an adapter of the same base or start a fresh one"
            )
    return len(items)


# --- the registry

Trainer = Callable[..., TrainResult]  # the signature of train.train


class RunRegistry:
    """Owns every run: the records on disk, the queue, the one training thread."""

    def __init__(
        self,
        settings: TrainerSettings,
        trainer: Trainer = train,
        clock: Callable[[], float] = time.time,
    ):
        self._settings = settings
        self._trainer = trainer
        self._clock = clock
        self._root = settings.state_dir / "runs"
        self._runs: dict[str, Run] = {}  # insertion order = creation order
        self._by_request: dict[str, str] = {}
        # Set and replaced on every change of a run: what watchers wait on.
        self._changed: dict[str, asyncio.Event] = {}
        self._create_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._stop = threading.Event()  # asks the training thread to stop at the next step
        self._current: str | None = None
        self._shutting_down = False
        self._worker: asyncio.Task | None = None
        self._last_persist = 0.0

    # --- lifecycle

    async def start(self) -> None:
        """Loads the records on disk and starts the worker (which resumes unfinished runs)."""
        self._root.mkdir(parents=True, exist_ok=True)
        records = []
        for path in self._root.glob(f"*/{RUN_RECORD}"):
            try:
                records.append(Run.from_dict(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.error("ignoring unreadable run record %s: %s", path, exc)
        for run in sorted(records, key=lambda r: r.create_time_seconds):
            if run.state is RunState.RUNNING:
                # The trainer died while this run trained: resume it from its last checkpoint.
                run = dataclasses.replace(run, restarts=run.restarts + 1)
                if run.restarts > MAX_RESTARTS:
                    run = self._final(
                        run,
                        RunState.FAILED,
                        error_message=f"the trainer stopped {run.restarts} times during this "
                        "run; not resuming it again (see the trainer log for the cause)",
                    )
                    self._cleanup(run)
                self._persist(run)
            self._runs[run.run_id] = run
            self._by_request[run.request_id] = run.run_id
            self._changed[run.run_id] = asyncio.Event()
        unfinished = [r.run_id for r in self._runs.values() if not r.state.final]
        log.info(
            "%d runs on record, %d to resume: %s", len(self._runs), len(unfinished), unfinished
        )
        self._count_states()
        self._worker = asyncio.create_task(self._work(), name="a3t-trainer-worker")

    async def close(self) -> None:
        """Stops the training thread at its next step; its run goes back to QUEUED (resumed at
        the next start)."""
        self._shutting_down = True
        self._stop.set()
        self._wakeup.set()
        if self._worker is not None:
            await self._worker

    # --- the API

    async def create(self, request_id: str, spec: TrainSpec) -> Run:
        if not request_id.strip():
            raise InvalidArgument("request_id must be set: a client-made unique key, e.g. a UUID")
        async with self._create_lock:
            if request_id in self._by_request:  # a retry: the run it created, nothing new
                return self._runs[self._by_request[request_id]]
            resolved = resolve_spec(spec, self._settings)
            # Reads the whole dataset: off the event loop.
            examples = await asyncio.to_thread(check_inputs, resolved, self._settings.artifact_root)
            busy = [r.run_id for r in self._runs.values() if not r.state.final]
            if busy:
                raise ResourceExhausted(
                    f"run {busy[0]} is still training and this trainer runs one at a time; wait "
                    "for it (WatchTrainingRun) or cancel it"
                )
            run = Run(
                run_id=uuid.uuid4().hex,
                request_id=request_id,
                spec=resolved,
                create_time_seconds=self._clock(),
            )
            self._persist(run)
            self._runs[run.run_id] = run
            self._by_request[request_id] = run.run_id
            self._changed[run.run_id] = asyncio.Event()
        log.info("run %s created for request %s: %d trajectories", run.run_id, request_id, examples)
        self._count_states()
        self._wakeup.set()
        return run

    def get(self, run_id: str) -> Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise NotFound(
                f"training run {quote(run_id)} does not exist; ListTrainingRuns shows "
                "the runs this trainer knows"
            ) from None

    def list(self, page_size: int = 0, page_token: str = "") -> Page[Run]:
        """One page of the runs, newest first (a3t.paging: 0 = its default size)."""
        return newest_first(
            self._runs.values(), lambda r: (r.create_time_seconds, r.run_id), page_size, page_token
        )

    async def watch(self, run_id: str) -> AsyncIterator[Run]:
        """The run now, then after every change, until it reaches a final state. A slow reader
        skips intermediate progress and gets the latest."""
        run = self.get(run_id)
        yield run
        while not run.state.final:
            if self._runs[run_id] is run:  # no change while the reader had the last one
                await self._changed[run_id].wait()
            run = self._runs[run_id]
            yield run

    async def cancel(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run.state.final:
            return run
        if self._current != run_id:  # queued (or about to start): it never trains
            self._set(self._final(run, RunState.CANCELLED))
            self._cleanup(run)
            return self._runs[run_id]
        self._stop.set()
        try:
            async with asyncio.timeout(CANCEL_WAIT_SECONDS):
                while not self._runs[run_id].state.final:
                    await self._changed[run_id].wait()
        except TimeoutError:
            log.warning(
                "run %s: still in a training step %.0fs after cancel", run_id, CANCEL_WAIT_SECONDS
            )
        return self._runs[run_id]

    # --- the worker

    async def _work(self) -> None:
        while not self._shutting_down:
            pending = [r for r in self._runs.values() if not r.state.final]
            if not pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._execute(pending[0])

    async def _execute(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        run_id = run.run_id
        self._current = run_id
        self._stop.clear()
        self._set(dataclasses.replace(run, state=RunState.RUNNING), persist=True)

        def progress(p: Progress) -> None:  # called from the training thread
            loop.call_soon_threadsafe(self._on_progress, run_id, p)

        try:
            result = await asyncio.to_thread(
                self._trainer,
                run.spec,
                self._settings,
                self._root / run_id,
                run_id=run_id,
                should_stop=self._stop.is_set,
                on_progress=progress,
            )
        except Cancelled:
            if self._shutting_down:
                # Back to QUEUED: the next start resumes it from its last epoch checkpoint
                # without counting a crash.
                log.info("run %s paused by shutdown; resumes at the next start", run_id)
                self._set(dataclasses.replace(self._runs[run_id], state=RunState.QUEUED))
                return
            log.info("run %s cancelled", run_id)
            self._set(self._final(self._runs[run_id], RunState.CANCELLED))
        except A3tError as exc:
            log.error("run %s failed: %s", run_id, exc)
            self._set(self._final(self._runs[run_id], RunState.FAILED, error_message=str(exc)))
        except Exception as exc:  # a bug or a torch error: the run fails, the service lives
            log.exception("run %s failed", run_id)
            self._set(
                self._final(
                    self._runs[run_id],
                    RunState.FAILED,
                    error_message=f"{type(exc).__name__}: {exc}",
                )
            )
        else:
            spec = run.spec
            output = AdapterOutput(
                spec.adapter_name, str(result.adapter_dir), spec.adapter_version, spec.base_model
            )
            self._set(self._final(self._runs[run_id], RunState.SUCCEEDED, output=output))
        finally:
            self._current = None
        self._cleanup(self._runs[run_id])

    def _on_progress(self, run_id: str, progress: Progress) -> None:
        run = self._runs[run_id]
        if run.state.final:
            return
        new_epoch = progress.epoch != run.progress.epoch
        metrics.STEPS.inc()
        metrics.TOKENS.inc(progress.step_tokens)
        metrics.TOKENS_PER_SECOND.set(progress.tokens_per_second)
        for part, value in (
            ("total", progress.loss),
            ("positive", progress.loss_positive),
            ("negative", progress.loss_negative),
        ):
            metrics.LOSS.labels(part=part).set(value)
        now = time.monotonic()
        persist = new_epoch or now - self._last_persist > PERSIST_EVERY_SECONDS
        self._set(dataclasses.replace(run, progress=progress), persist=persist)

    # --- bookkeeping

    def _final(self, run: Run, state: RunState, **changes: Any) -> Run:
        return dataclasses.replace(run, state=state, end_time_seconds=self._clock(), **changes)

    def _set(self, run: Run, persist: bool = True) -> None:
        """Stores a new version of a run, writes it to disk, wakes its watchers."""
        previous = self._runs.get(run.run_id)
        self._runs[run.run_id] = run
        if persist or run.state.final:
            self._persist(run)
        if previous is None or previous.state is not run.state:
            self._count_states()
        self._changed[run.run_id].set()
        self._changed[run.run_id] = asyncio.Event()

    def _persist(self, run: Run) -> None:
        directory = self._root / run.run_id
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{RUN_RECORD}.tmp"
        tmp.write_text(json.dumps(run.to_dict(), indent=2, sort_keys=True))
        os.replace(tmp, directory / RUN_RECORD)
        self._last_persist = time.monotonic()

    def _cleanup(self, run: Run) -> None:
        """A finished run keeps its record only: checkpoints and any staging output go."""
        shutil.rmtree(self._root / run.run_id / "checkpoints", ignore_errors=True)
        output = local_path(run.spec.output_uri)
        shutil.rmtree(output.parent / f".{output.name}.partial-{run.run_id}", ignore_errors=True)

    def _count_states(self) -> None:
        counts = {state: 0 for state in RunState}
        for run in self._runs.values():
            counts[run.state] += 1
        for state, count in counts.items():
            metrics.RUNS.labels(state=state.value).set(count)
