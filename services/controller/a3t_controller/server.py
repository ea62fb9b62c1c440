"""gRPC servicer of the controller: experiments as long-running resources over the round loop.

Translation only: each RPC calls a3t_controller.core.ControllerCore (create, get, list, rounds,
cancel, resume, watch), and this module turns its rows and progress events into messages and the
spec's fields into an ExperimentConfig.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import yaml

from a3t.controller.v1 import controller_pb2 as pb
from a3t.controller.v1 import controller_pb2_grpc
from a3t.errors import ConfigError, InvalidArgument
from a3t_controller.config import ExperimentConfig, load_config_yaml
from a3t_controller.core import ControllerCore
from a3t_controller.rounds import EVAL, EVAL_UNGROUNDED, PHASES
from a3t_controller.store import ExperimentRow

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
    """Request -> ControllerCore -> response."""

    def __init__(self, core: ControllerCore):
        self._core = core

    async def CreateExperiment(self, request, context) -> pb.Experiment:
        return experiment_pb(self._core.create(request.request_id, config_from_spec(request.spec)))

    async def GetExperiment(self, request, context) -> pb.Experiment:
        return experiment_pb(self._core.get(request.experiment_id))

    async def ListExperiments(self, request, context) -> pb.ListExperimentsResponse:
        page = self._core.page(request.page_size, request.page_token)
        return pb.ListExperimentsResponse(
            experiments=[experiment_pb(r) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def ListRounds(self, request, context) -> pb.ListRoundsResponse:
        rounds = []
        for view in self._core.rounds(request.experiment_id):
            r, s, ev = view.round, view.round.stats, view.evaluation
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
        return experiment_pb(await self._core.cancel(request.experiment_id))

    async def ResumeExperiment(self, request, context) -> pb.Experiment:
        return experiment_pb(self._core.resume(request.experiment_id))

    async def WatchExperiment(self, request, context) -> AsyncIterator[pb.ExperimentEvent]:
        async for p in self._core.watch(request.experiment_id):
            yield self._event(p.experiment_id, p.round, p.phase, p.done, p.total, p.message)

    def _event(self, eid, round_, phase, done, total, message) -> pb.ExperimentEvent:
        state = self._core.get(eid).state
        return pb.ExperimentEvent(
            experiment_id=eid,
            round=round_,
            # Evaluation episodes report their phase as "eval" or "eval_ungrounded" (the base
            # evaluation's too).
            phase=_PHASES.get(
                "evaluate" if phase in (EVAL, EVAL_UNGROUNDED) else phase,
                pb.ROUND_PHASE_UNSPECIFIED,
            ),
            done=done,
            total=total,
            message=message,
            state=_STATES[state],
        )
