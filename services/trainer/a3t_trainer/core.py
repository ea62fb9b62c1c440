"""The trainer's core, what TrainerService's RPCs call: no grpc here, plain dataclasses in and out
(a `TrainSpec` in, `Run`s out), a3t.errors for bad requests.

The work is done behind it, as a model service's core sits on an inference engine: `runs.py`
keeps the runs as resources (records on disk, the queue, idempotent create, watch, cancel,
resume after a restart) and `train.py` is the recipe one run executes. This module adds what the
service as a whole needs around them: one torch thread pool for the process, the imports a run
needs done before health turns SERVING, the unfinished runs resumed, and the training thread
stopped at its next step on SIGTERM.

Importing it imports torch (train.py): `__main__` imports it only after the settings are valid.
"""

from __future__ import annotations

import asyncio

import torch

from a3t_trainer.config import TrainerSettings
from a3t_trainer.runs import RunRegistry
from a3t_trainer.train import warm_up


class TrainerCore:
    """The trainer service: its runs (`runs` answers every RPC) and its start and stop."""

    def __init__(self, settings: TrainerSettings):
        self.settings = settings
        self.runs = RunRegistry(settings)

    async def start(self) -> None:
        """serve()'s start hook: health turns SERVING only once this has returned."""
        # One pool of intra-op threads for the whole process (NOTES.md: oversubscribing 2 cores
        # is 10-30x slower); the training thread inherits it.
        torch.set_num_threads(self.settings.torch_threads)
        # A run can then start training at once (transformers + peft take seconds to import);
        # only then are the runs a previous process left unfinished resumed.
        await asyncio.to_thread(warm_up)
        await self.runs.start()

    async def close(self) -> None:
        """serve()'s stop hook: the running run goes back to QUEUED, resumed at the next start."""
        await self.runs.close()
