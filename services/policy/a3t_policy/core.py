"""The policy's logic: prompt, generate, parse the step, optionally ground the action.

No grpc here: plain values in and out, a3t.errors raised for bad requests. The prompt is
`a3t.prompts.policy_messages` (system prompt, our 1-shot exemplar for the task type, the episode so
far), the same text the trainer renders.

Parsing never fails. A small model's output is often not a clean step: extra thoughts, an
`Action:` prefix, a next observation it made up, a new chat turn, or nothing useful. What is
recognisably a step becomes (thought, action); anything else is returned verbatim as the action
(its first line, cut to `max_action_chars`, or a visible placeholder when the output is empty),
so the environment answers it as an invalid action and the trajectory shows what the model said.
When the request lists the admissible actions, an action that spells one of them differently
(case, spacing, a final period) or runs on after one ("go to desk 1, then ...") is returned as
that admissible action; `raw_text` keeps what the model wrote. Grounding (optional) goes further:
an action still not admissible is replaced by the admissible action the model scores highest
after its own thought, and the step says so (source GROUNDED, replaced_action).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from a3t.envs import env_spec
from a3t.errors import ContextOverflow, InvalidArgument
from a3t.inference.base import ChatMessage, Generation, GenerationParams
from a3t.inference.chat import format_step
from a3t.inference.fit import with_fitting_history
from a3t.inference.served import ServedModel
from a3t.prompts import policy_messages
from a3t.trajectory import Step, StepSource, Task, TokenUsage
from a3t_policy import metrics
from a3t_policy.config import PolicySettings

log = logging.getLogger(__name__)

NO_ACTION = "(no action)"
"""The action returned for an empty output: the env must get a non-empty action, and an invented
but plausible one would hide that the model said nothing."""

_THINK = re.compile(r"^(think|thought)\s*:\s*", re.IGNORECASE)
_ACTION_PREFIX = re.compile(r"^(>|action\s*:|act\s*:)\s*", re.IGNORECASE)
_INLINE_ACTION = re.compile(r"\s+action\s*:\s*", re.IGNORECASE)
# Lines that begin a new chat turn, not the agent's step: small models run on and write the next
# turn themselves. Everything from such a line on is dropped, as is everything from a line that
# begins the environment's answer (each env's `EnvPrompts.observation_starts`).
_NOT_AGENT = re.compile(
    r"^(<\|im_start\|>|<\|im_end\|>|(user|assistant|system)\s*:?$|human\s*:)", re.IGNORECASE
)
_QUOTES = "`'\""


@dataclass(frozen=True)
class ParsedStep:
    thought: str
    action: str
    parsed: bool  # False: no action line; `action` is the output's first line (or NO_ACTION)


def _clean_action(line: str) -> str:
    previous = None
    while previous != line:  # "> Action: `go to desk 1`" -> "go to desk 1"
        previous = line
        line = _ACTION_PREFIX.sub("", line).strip()
        if len(line) >= 2 and line[0] == line[-1] and line[0] in _QUOTES:
            line = line[1:-1].strip()
    return line


def parse_output(
    text: str, max_action_chars: int, observation_start: re.Pattern[str] | None = None
) -> ParsedStep:
    """Generated text -> (thought, action); never raises and never returns an empty action.
    `observation_start` matches lines that begin the environment's answer (the task's env's)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i > 0 and (
            _NOT_AGENT.match(line) or (observation_start and observation_start.match(line))
        ):
            break
        kept.append(line)
    thoughts: list[str] = []
    action = ""
    for line in kept:
        match = _THINK.match(line)
        if match is None:
            action = _clean_action(line)
            break
        thought = line[match.end() :]
        inline = _INLINE_ACTION.search(thought)
        if inline is not None:  # "think: ... Action: go to desk 1" on one line
            thoughts.append(thought[: inline.start()].strip())
            action = _clean_action(thought[inline.end() :])
            break
        thoughts.append(thought.strip())
    if action:
        thought = " ".join(t for t in thoughts if t)
        return ParsedStep(thought, action[:max_action_chars].strip(), parsed=True)
    first = lines[0][:max_action_chars].strip() if lines else ""
    return ParsedStep("", first or NO_ACTION, parsed=False)


def _normal(action: str) -> str:
    return " ".join(action.lower().strip(_QUOTES + " .!").split())


def match_admissible(action: str, admissible: Sequence[str]) -> str | None:
    """The admissible action `action` spells, ignoring case, spacing, quotes and a final period;
    else the longest admissible action it starts with, up to a word boundary: small models run
    on after the action ("go to sidetable 2, I take a book." -> "go to sidetable 2"), and a
    boundary keeps "go to desk 10" from matching "go to desk 1"."""
    if action in admissible:
        return action
    key = _normal(action)
    best, best_len = None, 0
    for candidate in admissible:
        norm = _normal(candidate)
        if norm == key:
            return candidate
        if len(norm) > best_len and key.startswith(norm) and not key[len(norm)].isalnum():
            best, best_len = candidate, len(norm)
    return best


@dataclass(frozen=True)
class ActResult:
    thought: str
    action: str
    raw_text: str
    usage: TokenUsage
    source: StepSource  # POLICY, or GROUNDED when grounding replaced the action
    replaced_action: str  # the generated action when grounding replaced it, else ""
    adapter: str  # adapter that produced the step; "" = the base model


class PolicyCore:
    def __init__(self, model: ServedModel, settings: PolicySettings):
        self.model = model
        self.settings = settings

    async def act(
        self,
        *,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        params: GenerationParams,
        admissible: Sequence[str] = (),
        episode_id: str = "",
        adapter: str = "",
        ground: bool = False,
    ) -> ActResult:
        """The next step of an episode. `adapter` "" = the active one, "base" = none; `ground`
        turns grounding on for this request (the config's ground_actions turns it on for all)."""
        if not task.env:
            raise InvalidArgument(
                "task.env must be set (e.g. 'alfworld'): it picks the system prompt and exemplar"
            )
        env_spec(task.env)  # an unknown env is the caller's error, said before any work
        if not initial_observation.strip():
            raise InvalidArgument(
                "initial_observation must be the episode's first observation; it is empty"
            )
        # Grounding picks one of the admissible actions; a step without a list (an env that takes
        # free text there, such as WebShop's search box) keeps what the model wrote.
        ground = ground or self.settings.ground_actions
        # The 1-shot exemplar teaches the base model the format; a trained adapter acts without
        # it, exactly as the trainer renders its data (a3t.prompts.trajectory_policy_messages).
        with_exemplar = self.model.adapter_used(adapter) == ""

        async def generate(steps: Sequence[Step]) -> tuple[list[ChatMessage], Generation]:
            messages = policy_messages(
                task, initial_observation, steps, with_exemplar=with_exemplar
            )
            out = await self.model.generate(
                messages, params, episode_id=episode_id, adapter=adapter
            )
            return messages, out

        # A history longer than the context loses its oldest steps (a3t.inference.fit).
        messages, out = await with_fitting_history(history, generate)
        step = parse_output(
            out.text, self.settings.max_action_chars, env_spec(task.env).prompts.observation_start()
        )
        env = task.env
        metrics.STEPS.labels(env=env, task_type=task.task_type).inc()
        if not step.parsed:
            metrics.UNPARSED.labels(env=env).inc()
            log.debug("no action line in %r; returning %r", out.text, step.action)
        thought, action = step.thought, step.action
        source, replaced = StepSource.POLICY, ""
        if admissible:
            matched = match_admissible(action, admissible)
            if matched is None:
                metrics.INADMISSIBLE.labels(env=env).inc()
                if ground:
                    try:
                        best = await self._ground(
                            messages, thought, admissible, adapter, episode_id
                        )
                    except ContextOverflow:  # the prompt fits, prompt + candidates do not
                        log.info("no room to score the admissible actions; action kept as is")
                    else:
                        source, replaced, action = StepSource.GROUNDED, action, best
                        metrics.GROUNDED.labels(env=env).inc()
            else:
                action = matched
        return ActResult(
            thought=thought,
            action=action,
            raw_text=out.text,
            usage=out.usage,
            source=source,
            replaced_action=replaced,
            adapter=self.model.adapter_used(adapter),
        )

    async def _ground(
        self,
        messages: list[ChatMessage],
        thought: str,
        admissible: Sequence[str],
        adapter: str,
        episode_id: str = "",
    ) -> str:
        """The admissible action the model scores highest after its own thought."""
        # The step as the chat format writes it, up to where the action starts.
        prefix = format_step(Step(action="", thought=thought))
        scores = await self.model.score_continuations(
            messages, prefix, admissible, adapter, episode_id
        )
        best = max(range(len(admissible)), key=lambda i: scores[i])  # first of equal scores
        return admissible[best]

    def end_episode(self, episode_id: str) -> bool:
        return self.model.end_episode(episode_id) if episode_id else False
