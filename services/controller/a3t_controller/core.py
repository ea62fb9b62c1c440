"""The controller's core: experiments as long-running work over the round loop, without gRPC.

`create` stores an experiment (idempotent per request id) and starts its rounds as a background
task; `cancel` stops the task after its current await (what it collected stays in the store);
`resume` runs a FAILED or CANCELLED experiment again from the phase it stopped in; `watch` yields
its progress until it ends; `resume_running` restarts, after a controller restart, the
experiments the store says are running. The rounds themselves are `rounds.RoundRunner`; the
servicer (server.py) only translates messages to and from these calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from a3t.errors import FailedPrecondition, InvalidArgument
from a3t.paging import Page, newest_first
from a3t_controller.config import ExperimentConfig
from a3t_controller.ports import Services
from a3t_controller.rounds import Progress, RoundRunner
from a3t_controller.store import EvaluationRow, ExperimentRow, RoundRow, Store

log = logging.getLogger(__name__)

FINAL = frozenset({"succeeded", "failed", "cancelled"})
_ENDED = "end"  # the phase of the progress event a finished run publishes to its watchers


@dataclass(frozen=True)
class RoundView:
    """One round and its evaluation (None until the round has been evaluated)."""

    round: RoundRow
    evaluation: EvaluationRow | None


class ControllerCore:
    def __init__(
        self,
        store: Store,
        services: Services,
        artifacts_dir: Path,
        runner_factory: Callable[..., RoundRunner] = RoundRunner,
    ):
        self.store = store
        self._services = services
        self._artifacts = artifacts_dir
        self._factory = runner_factory
        self._tasks: dict[str, asyncio.Task] = {}
        self._watchers: dict[str, list[asyncio.Queue[Progress]]] = {}

    # --- the experiments' tasks

    def start(self, experiment_id: str) -> None:
        """Runs the experiment's rounds in the background, unless they run already."""
        if experiment_id in self._tasks and not self._tasks[experiment_id].done():
            return
        runner = self._factory(self.store, self._services, self._artifacts, self._publish)

        async def run() -> None:
            try:
                await runner.run(experiment_id)
            except asyncio.CancelledError:
                pass
            except Exception:  # recorded in the store by the runner
                log.warning("experiment %s ended with an error", experiment_id)
            finally:
                self._publish(Progress(experiment_id, -2, _ENDED, 0, 0, "experiment ended"))

        self._tasks[experiment_id] = asyncio.create_task(run())

    def resume_running(self) -> list[str]:
        """After a restart: starts again every experiment the store says is running."""
        resumed = [e.experiment_id for e in self.store.experiments() if e.state == "running"]
        for experiment_id in resumed:
            log.info("resuming experiment %s", experiment_id)
            self.start(experiment_id)
        return resumed

    async def stop_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _publish(self, p: Progress) -> None:
        for queue in self._watchers.get(p.experiment_id, []):
            queue.put_nowait(p)

    # --- what the RPCs do

    def create(self, request_id: str, config: ExperimentConfig) -> ExperimentRow:
        if not request_id:
            raise InvalidArgument("request_id must be set (an idempotency key, e.g. a UUID)")
        row = self.store.create_experiment(config.name, request_id, config.to_dict())
        if row.state not in FINAL:
            self.start(row.experiment_id)
        return row

    def get(self, experiment_id: str) -> ExperimentRow:
        return self.store.experiment(experiment_id)

    def page(self, page_size: int, page_token: str) -> Page[ExperimentRow]:
        return newest_first(
            self.store.experiments(),
            lambda row: (row.create_time, row.experiment_id),
            page_size,
            page_token,
        )

    def rounds(self, experiment_id: str) -> list[RoundView]:
        exp = self.store.experiment(experiment_id)
        return [
            RoundView(r, self.store.evaluation(exp.experiment_id, r.round))
            for r in self.store.rounds(exp.experiment_id)
        ]

    async def cancel(self, experiment_id: str) -> ExperimentRow:
        exp = self.store.experiment(experiment_id)
        task = self._tasks.get(exp.experiment_id)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        elif exp.state not in FINAL:
            self.store.set_experiment(exp.experiment_id, state="cancelled")
        return self.store.experiment(exp.experiment_id)

    def resume(self, experiment_id: str) -> ExperimentRow:
        exp = self.store.experiment(experiment_id)
        if exp.state == "succeeded":
            raise FailedPrecondition(
                f"experiment {exp.name!r} already succeeded; to train more rounds, create a new "
                "experiment"
            )
        if exp.state in ("failed", "cancelled"):
            log.info(
                "resuming %s experiment %s at round %d %s",
                exp.state,
                exp.experiment_id,
                exp.current_round,
                exp.current_phase,
            )
            # Marked running here, so the answer (and a Get right after) shows it resumed.
            self.store.set_experiment(exp.experiment_id, state="running", error_message="")
        self.start(exp.experiment_id)
        return self.store.experiment(exp.experiment_id)

    async def watch(self, experiment_id: str) -> AsyncIterator[Progress]:
        """Where the experiment is now, then each progress event until it ends, then where it
        ended."""
        exp = self.store.experiment(experiment_id)
        eid = exp.experiment_id
        queue: asyncio.Queue[Progress] = asyncio.Queue()
        self._watchers.setdefault(eid, []).append(queue)
        try:
            yield Progress(eid, exp.current_round, exp.current_phase, 0, 0, "watching")
            while self.store.experiment(eid).state not in FINAL:
                try:
                    p = await asyncio.wait_for(queue.get(), timeout=5.0)
                except TimeoutError:
                    continue
                if p.phase == _ENDED:
                    break
                yield p
            final = self.store.experiment(eid)
            yield Progress(
                eid, final.current_round, final.current_phase, 0, 0, f"experiment {final.state}"
            )
        finally:
            self._watchers[eid].remove(queue)
