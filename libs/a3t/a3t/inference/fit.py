"""Keeping an episode's prompt inside the model's context.

A long episode (50 ALFWorld steps, a chatty model, a small context) can outgrow the context. The
policy and ActRe build their prompts from the task, the first observation and the history; when
the engine refuses a prompt (ContextOverflow), the oldest quarter of the history is dropped and
the prompt is built again, until it fits or no history is left. The task and the first
observation always stay; the latest steps are the ones the next step depends on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from a3t.errors import ContextOverflow
from a3t.trajectory import Step

log = logging.getLogger(__name__)

T = TypeVar("T")


async def with_fitting_history(
    history: Sequence[Step], call: Callable[[Sequence[Step]], Awaitable[T]]
) -> T:
    """`call(history)`, retried with the oldest steps dropped while it raises ContextOverflow.

    Re-raises the overflow when even an empty history does not fit (the exemplar or first
    observation is too long).
    """
    steps = list(history)
    dropped = 0
    while True:
        try:
            return await call(steps)
        except ContextOverflow as exc:
            if not steps:
                raise
            cut = max(1, len(steps) // 4)
            steps, dropped = steps[cut:], dropped + cut
            log.info("prompt too long (%s): leaving out the oldest %d steps", exc, dropped)
