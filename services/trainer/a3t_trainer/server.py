"""gRPC servicer of the trainer: translates requests to TrainerCore calls and back, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator

from a3t.common.v1 import types_pb2
from a3t.trainer.v1 import trainer_pb2 as pb
from a3t.trainer.v1 import trainer_pb2_grpc
from a3t_trainer.core import TrainerCore
from a3t_trainer.runs import Run, RunState
from a3t_trainer.train import TrainSpec

_STATE_TO_PB = {
    RunState.QUEUED: pb.TRAINING_RUN_STATE_QUEUED,
    RunState.RUNNING: pb.TRAINING_RUN_STATE_RUNNING,
    RunState.SUCCEEDED: pb.TRAINING_RUN_STATE_SUCCEEDED,
    RunState.FAILED: pb.TRAINING_RUN_STATE_FAILED,
    RunState.CANCELLED: pb.TRAINING_RUN_STATE_CANCELLED,
}


def spec_from_pb(msg: pb.TrainingSpec) -> TrainSpec:
    """The request's spec as sent (zero values unresolved; the core fills defaults)."""
    return TrainSpec(
        base_model=msg.base_model,
        dataset_uri=msg.dataset_uri,
        output_uri=msg.output_uri,
        adapter_name=msg.adapter_name,
        adapter_version=msg.adapter_version,
        init_adapter_uri=msg.init_adapter_uri,
        epochs=msg.epochs,
        learning_rate=msg.learning_rate,
        lora_rank=msg.lora_rank,
        lora_alpha=msg.lora_alpha,
        lora_target_modules=tuple(msg.lora_target_modules),
        quantize_4bit=msg.quantize_4bit,
        include_observation_tokens=msg.include_observation_tokens,
        max_seq_tokens=msg.max_seq_tokens,
        negative_prob_floor=msg.negative_prob_floor,
        average_last_epochs=msg.average_last_epochs,
        seed=msg.seed,
        round=msg.round,
        system_prompt=msg.system_prompt,
    )


def spec_to_pb(spec: TrainSpec) -> pb.TrainingSpec:
    return pb.TrainingSpec(
        base_model=spec.base_model,
        dataset_uri=spec.dataset_uri,
        output_uri=spec.output_uri,
        adapter_name=spec.adapter_name,
        adapter_version=spec.adapter_version,
        init_adapter_uri=spec.init_adapter_uri,
        epochs=spec.epochs,
        learning_rate=spec.learning_rate,
        lora_rank=spec.lora_rank,
        lora_alpha=spec.lora_alpha,
        lora_target_modules=list(spec.lora_target_modules),
        quantize_4bit=spec.quantize_4bit,
        include_observation_tokens=spec.include_observation_tokens,
        max_seq_tokens=spec.max_seq_tokens,
        negative_prob_floor=spec.negative_prob_floor,
        average_last_epochs=spec.average_last_epochs,
        seed=spec.seed,
        round=spec.round,
        system_prompt=spec.system_prompt,
    )


def run_to_pb(run: Run) -> pb.TrainingRun:
    p = run.progress
    msg = pb.TrainingRun(
        run_id=run.run_id,
        request_id=run.request_id,
        spec=spec_to_pb(run.spec),
        state=_STATE_TO_PB[run.state],
        progress=pb.TrainingProgress(
            step=p.step,
            total_steps=p.total_steps,
            epoch=p.epoch,
            loss=p.loss,
            loss_positive=p.loss_positive,
            loss_negative=p.loss_negative,
            tokens_per_second=p.tokens_per_second,
            eta_seconds=p.eta_seconds,
        ),
        error_message=run.error_message,
        create_time_seconds=run.create_time_seconds,
        end_time_seconds=run.end_time_seconds,
    )
    if run.output is not None:
        msg.output.CopyFrom(
            types_pb2.AdapterRef(
                name=run.output.name,
                uri=run.output.uri,
                version=run.output.version,
                base_model=run.output.base_model,
            )
        )
    return msg


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, core: TrainerCore):
        self._registry = core.runs

    async def CreateTrainingRun(
        self, request: pb.CreateTrainingRunRequest, context
    ) -> pb.TrainingRun:
        run = await self._registry.create(request.request_id, spec_from_pb(request.spec))
        return run_to_pb(run)

    async def GetTrainingRun(self, request: pb.GetTrainingRunRequest, context) -> pb.TrainingRun:
        return run_to_pb(self._registry.get(request.run_id))

    async def WatchTrainingRun(
        self, request: pb.WatchTrainingRunRequest, context
    ) -> AsyncIterator[pb.TrainingRun]:
        async for run in self._registry.watch(request.run_id):
            yield run_to_pb(run)

    async def CancelTrainingRun(
        self, request: pb.CancelTrainingRunRequest, context
    ) -> pb.TrainingRun:
        return run_to_pb(await self._registry.cancel(request.run_id))

    async def ListTrainingRuns(
        self, request: pb.ListTrainingRunsRequest, context
    ) -> pb.ListTrainingRunsResponse:
        page = self._registry.list(request.page_size, request.page_token)
        return pb.ListTrainingRunsResponse(
            runs=[run_to_pb(r) for r in page.items], next_page_token=page.next_page_token
        )
