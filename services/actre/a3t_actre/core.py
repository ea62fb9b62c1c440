"""ActRe's logic: act first, then reason. Given the episode so far and an action already chosen
(sampled during exploration), the model writes why the action is a sensible next step.

The prompt (`a3t.prompts.actre_messages`) shows the history and the action but never the action's
outcome: the request carries no observation for it, so the rationale cannot leak what happens
next into the thought that precedes the action in the synthesised step. No grpc here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from a3t.errors import InvalidArgument
from a3t.inference.base import Generation, GenerationParams
from a3t.inference.fit import with_fitting_history
from a3t.inference.served import ServedModel
from a3t.prompts import actre_messages, clean_rationale
from a3t.trajectory import Step, Task, TokenUsage
from a3t_actre import metrics
from a3t_actre.config import ActReSettings

log = logging.getLogger(__name__)

MAX_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def trim_rationale(text: str) -> str:
    """The first line of an answer (no `think:`), cut to at most two complete sentences.

    A small model rambles on until max_new_tokens and stops mid-sentence; a half sentence would
    become the thought of a training step, so an unfinished last sentence is dropped whenever a
    finished one precedes it.
    """
    line = " ".join(clean_rationale(text).split())
    sentences = _SENTENCE_END.split(line)
    if len(sentences) > 1 and not sentences[-1].endswith((".", "!", "?")):
        sentences = sentences[:-1]
    return " ".join(sentences[:MAX_SENTENCES])


@dataclass(frozen=True)
class Explanation:
    rationale: str  # <= 2 sentences, no "think:" prefix; "" when the model gave nothing usable
    raw_text: str
    usage: TokenUsage


class ActReCore:
    def __init__(self, model: ServedModel, settings: ActReSettings):
        self.model = model
        self.settings = settings

    async def explain(
        self,
        *,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        action: str,
        params: GenerationParams,
        adapter: str = "",
        episode_id: str = "",
    ) -> Explanation:
        """The rationale for taking `action` next. `adapter` "" = the active one, "base" = none;
        `episode_id` lets the engine keep the episode's transcript cached between calls."""
        if not task.env:
            raise InvalidArgument("task must be set, with its env (e.g. 'alfworld')")
        action = " ".join(action.split())
        if not action:
            raise InvalidArgument(
                "action must be the chosen action to explain, e.g. 'open drawer 1'"
            )

        async def generate(steps: Sequence[Step]) -> Generation:
            messages = actre_messages(task, initial_observation, steps, action)
            return await self.model.generate(
                messages, params, episode_id=episode_id, adapter=adapter
            )

        # A history longer than the context loses its oldest steps (a3t.inference.fit).
        out = await with_fitting_history(history, generate)
        rationale = trim_rationale(out.text)
        metrics.RATIONALES.labels(env=task.env).inc()
        if not rationale:
            metrics.EMPTY.labels(env=task.env).inc()
            log.debug("no rationale in %r for %r", out.text, action)
        return Explanation(rationale=rationale, raw_text=out.text, usage=out.usage)

    def end_episode(self, episode_id: str) -> bool:
        return self.model.end_episode(episode_id) if episode_id else False
