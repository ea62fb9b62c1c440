"""gRPC servicer of the controller: experiments as long-running resources over the round loop.

CreateExperiment stores the experiment and starts its rounds as a background task; Get/List read
the store; Watch streams progress events; Cancel stops the task after the current await (collected
data stays in the store); Resume runs a FAILED or CANCELLED one again from where it stopped. A
restarted controller resumes experiments left RUNNING.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import cast

import yaml

from a3t.controller.v1 import controller_pb2 as pb
from a3t.controller.v1 import controller_pb2_grpc
from a3t.errors import ConfigError, FailedPrecondition, InvalidArgument
from a3t.paging import newest_first
from a3t_controller.config import ExperimentConfig, load_config_yaml
from a3t_controller.ports import Services
from a3t_controller.rounds import PHASES, Progress, RoundRunner
from a3t_controller.store import ExperimentRow, Store

log = logging.getLogger(__name__)

_STATES = {
    "pending": pb.EXPERIMENT_STATE_PENDING,
    "running": pb.EXPERIMENT_STATE_RUNNING,
    "succeeded": pb.EXPERIMENT_STATE_SUCCEEDED,
    "failed": pb.EXPERIMENT_STATE_FAILED,
    "cancelled": pb.EXPERIMENT_STATE_CANCELLED,
}
# Each phase to the RoundPhase value of its name (a phase without one fails at import). The cast:
# protoc's .pyi types Value() as a plain int, the message fields as the enum.
_PHASES = {
    name: cast(pb.RoundPhase, pb.RoundPhase.Value(f"ROUND_PHASE_{name.upper()}")) for name in PHASES
}
_SELECTORS = {
    pb.SELECTOR_UNSPECIFIED: "env",
    pb.SELECTOR_ENV: "env",
    pb.SELECTOR_CRITIC: "critic",
    pb.SELECTOR_HYBRID: "hybrid",
    pb.SELECTOR_ORACLE: "oracle",
    pb.SELECTOR_RANDOM: "random",
}
_FINAL = {"succeeded", "failed", "cancelled"}


def config_from_spec(spec: pb.ExperimentSpec) -> ExperimentConfig:
    """Spec fields override the YAML; zero values mean "default" as the proto documents."""
    data = {}
    if spec.config_yaml:
        data.update(load_config_yaml(spec.config_yaml, "config_yaml"))
    for field in (
        "name",
        "env",
        "train_split",
        "eval_split",
        "rounds",
        "explore_attempts",
        "max_positives_per_task",
        "max_steps",
        "max_train_tasks",
        "max_eval_tasks",
    ):
        value = getattr(spec, field)
        if value:
            data[field] = value
    if spec.explore_probability:
        data["explore_probability"] = list(spec.explore_probability)
    if spec.selector:
        if spec.selector not in _SELECTORS:  # a newer client's value, or garbage
            raise InvalidArgument(
                f"selector {spec.selector} is not a Selector of this controller "
                f"({', '.join(pb.Selector.Name(v) for v in _SELECTORS)})"
            )
        data["selector"] = _SELECTORS[spec.selector]
    try:
        return ExperimentConfig.from_dict(data)
    except ConfigError as exc:
        raise InvalidArgument(str(exc)) from exc


def experiment_pb(row: ExperimentRow) -> pb.Experiment:
    cfg = row.config
    return pb.Experiment(
        experiment_id=row.experiment_id,
        request_id=row.request_id,
        spec=pb.ExperimentSpec(
            name=row.name,
            env=cfg["env"],
            train_split=cfg["train_split"],
            eval_split=cfg["eval_split"],
            rounds=cfg["rounds"],
            explore_probability=cfg["explore_probability"],
            max_steps=cfg["max_steps"],
            config_yaml=yaml.safe_dump(cfg, sort_keys=True),
        ),
        state=_STATES[row.state],
        current_round=row.current_round,
        current_phase=_PHASES.get(row.current_phase, pb.ROUND_PHASE_UNSPECIFIED),
        error_message=row.error_message,
        create_time_seconds=row.create_time,
        waiting_for=row.waiting_for,
    )


class ControllerServicer(controller_pb2_grpc.ControllerServiceServicer):
    def __init__(
        self,
        store: Store,
        services: Services,
        artifacts_dir,
        runner_factory: Callable[..., RoundRunner] = RoundRunner,
    ):
        self._store = store
        self._services = services
        self._artifacts = artifacts_dir
        self._factory = runner_factory
        self._tasks: dict[str, asyncio.Task] = {}
        self._watchers: dict[str, list[asyncio.Queue]] = {}

    def _publish(self, p: Progress) -> None:
        for queue in self._watchers.get(p.experiment_id, []):
            queue.put_nowait(p)

    def start(self, experiment_id: str) -> None:
        if experiment_id in self._tasks and not self._tasks[experiment_id].done():
            return
        runner = self._factory(self._store, self._services, self._artifacts, self._publish)

        async def run() -> None:
            try:
                await runner.run(experiment_id)
            except asyncio.CancelledError:
                pass
            except Exception:  # recorded in the store by the runner
                log.warning("experiment %s ended with an error", experiment_id)
            finally:
                self._publish(Progress(experiment_id, -2, "end", 0, 0, "experiment ended"))

        self._tasks[experiment_id] = asyncio.create_task(run())

    def resume_running(self) -> list[str]:
        resumed = [e.experiment_id for e in self._store.experiments() if e.state == "running"]
        for experiment_id in resumed:
            log.info("resuming experiment %s", experiment_id)
            self.start(experiment_id)
        return resumed

    async def stop_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def CreateExperiment(self, request, context) -> pb.Experiment:
        if not request.request_id:
            raise InvalidArgument("request_id must be set (an idempotency key, e.g. a UUID)")
        config = config_from_spec(request.spec)
        row = self._store.create_experiment(config.name, request.request_id, config.to_dict())
        if row.state not in _FINAL:
            self.start(row.experiment_id)
        return experiment_pb(row)

    async def GetExperiment(self, request, context) -> pb.Experiment:
        return experiment_pb(self._store.experiment(request.experiment_id))

    async def ListExperiments(self, request, context) -> pb.ListExperimentsResponse:
        page = newest_first(
            self._store.experiments(),
            lambda row: (row.create_time, row.experiment_id),
            request.page_size,
            request.page_token,
        )
        return pb.ListExperimentsResponse(
            experiments=[experiment_pb(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def ListRounds(self, request, context) -> pb.ListRoundsResponse:
        exp = self._store.experiment(request.experiment_id)
        rounds = []
        for r in self._store.rounds(exp.experiment_id):
            s, ev = r.stats, self._store.evaluation(exp.experiment_id, r.round)
            rounds.append(
                pb.Round(
                    round=r.round,
                    phase=_PHASES[r.phase],
                    attempt_solved=s.attempt_solved or 0,
                    attempt_total=s.attempt_total or 0,
                    explore_solved=s.explore_solved or 0,
                    selected=s.selected or 0,
                    pool_size=s.pool_size or 0,
                    adapter=s.adapter or "",
                    eval_success_rate=ev.success_rate if ev else 0.0,
                    eval_success_by_type=ev.by_type if ev else {},
                    cumulative_success_rate=ev.cumulative_success_rate if ev else 0.0,
                )
            )
        return pb.ListRoundsResponse(rounds=rounds)

    async def CancelExperiment(self, request, context) -> pb.Experiment:
        exp = self._store.experiment(request.experiment_id)
        task = self._tasks.get(exp.experiment_id)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        elif exp.state not in _FINAL:
            self._store.set_experiment(exp.experiment_id, state="cancelled")
        return experiment_pb(self._store.experiment(exp.experiment_id))

    async def ResumeExperiment(self, request, context) -> pb.Experiment:
        exp = self._store.experiment(request.experiment_id)
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
            self._store.set_experiment(exp.experiment_id, state="running", error_message="")
        self.start(exp.experiment_id)
        return experiment_pb(self._store.experiment(exp.experiment_id))

    async def WatchExperiment(self, request, context) -> AsyncIterator[pb.ExperimentEvent]:
        exp = self._store.experiment(request.experiment_id)
        eid = exp.experiment_id
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers.setdefault(eid, []).append(queue)
        try:
            yield self._event(eid, exp.current_round, exp.current_phase, 0, 0, "watching")
            while self._store.experiment(eid).state not in _FINAL:
                try:
                    p = await asyncio.wait_for(queue.get(), timeout=5.0)
                except TimeoutError:
                    continue
                if p.phase == "end":
                    break
                yield self._event(eid, p.round, p.phase, p.done, p.total, p.message)
            final = self._store.experiment(eid)
            yield self._event(
                eid, final.current_round, final.current_phase, 0, 0, f"experiment {final.state}"
            )
        finally:
            self._watchers[eid].remove(queue)

    def _event(self, eid, round_, phase, done, total, message) -> pb.ExperimentEvent:
        state = self._store.experiment(eid).state
        return pb.ExperimentEvent(
            experiment_id=eid,
            round=round_,
            # Evaluation episodes report their phase as "eval" (the base evaluation too).
            phase=_PHASES.get("evaluate" if phase == "eval" else phase, pb.ROUND_PHASE_UNSPECIFIED),
            done=done,
            total=total,
            message=message,
            state=_STATES[state],
        )
