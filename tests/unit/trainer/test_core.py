"""The trainer's core around its run registry: start gives the process its torch threads and
loads the runs a previous process left on record; close stops the worker."""

from __future__ import annotations

import json

import torch

from a3t_trainer.config import TrainerSettings
from a3t_trainer.core import TrainerCore
from a3t_trainer.runs import RUN_RECORD, Run, RunState
from a3t_trainer.train import TrainSpec

SPEC = TrainSpec(
    base_model="smollm2",
    dataset_uri="data.jsonl",
    output_uri="out",
    adapter_name="exp-round-0",
    adapter_version=1,
    init_adapter_uri="",
    epochs=10,
    learning_rate=1e-4,
    lora_rank=16,
    lora_alpha=32,
    lora_target_modules=("q_proj", "v_proj"),
    quantize_4bit=False,
    include_observation_tokens=False,
    max_seq_tokens=2048,
    negative_prob_floor=1e-3,
    average_last_epochs=0,
    seed=0,
    round=0,
)


async def test_start_sets_the_torch_threads_then_loads_the_runs_on_record(tmp_path) -> None:
    state = tmp_path / "state"
    done = Run(
        run_id="r1",
        request_id="q1",
        spec=SPEC,
        state=RunState.SUCCEEDED,
        create_time_seconds=1.0,
        end_time_seconds=2.0,
    )
    record = state / "runs" / "r1" / RUN_RECORD
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps(done.to_dict()))
    core = TrainerCore(TrainerSettings(state_dir=state, device="cpu", torch_threads=2))
    try:
        await core.start()
        assert torch.get_num_threads() == 2
        assert core.runs.list().items == [done]
        assert core.runs.get("r1").state is RunState.SUCCEEDED
    finally:
        await core.close()
        torch.set_num_threads(1)  # the tests' one thread (conftest.py)
