"""The critic's logic: ask the model to judge a trajectory against a rubric and read its verdict.

The answer must hold one JSON object {"score": 0-10, "verdict": "success" | "partial" | "failure",
"reasons": [str, ...]}. Reading is strict: real JSON only (prose around the object is ignored,
but nothing is guessed from prose, no lenient JSON dialects), and every field is type- and
range-checked. An answer that does not read is sent back once with the reason and the format
(the repair retry); if that answer does not read either, the result is UNPARSEABLE with no score,
never a made-up one.

With `scoring: probability` nothing is generated: the critic is asked "did the agent accomplish
the task? yes or no", and the engine scores both answers as continuations; the score is
10 x P(yes), P(yes) the softmax of the two answers' mean log-probs. A small model's free-text
verdicts can carry no signal (SmolLM2 scored every trajectory 10) while its probabilities still
order trajectories. No grpc here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from a3t.envs import ENVIRONMENTS
from a3t.errors import InvalidArgument
from a3t.inference.base import ChatMessage, GenerationParams
from a3t.inference.served import ServedModel
from a3t.prompts import CRITIC_FORMAT, critic_messages
from a3t.trajectory import TokenUsage, Trajectory
from a3t_critic import metrics
from a3t_critic.config import CriticSettings

log = logging.getLogger(__name__)

VERDICTS = ("success", "partial", "failure")
ANSWERS = ("yes", "no")  # probability scoring: the two answers scored as continuations


@dataclass(frozen=True)
class Verdict:
    score: float  # 0-10
    verdict: str  # one of VERDICTS
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ScoreResult:
    verdict: Verdict | None  # None: no answer could be read (UNPARSEABLE)
    raw_text: str  # the last answer
    usage: TokenUsage  # both calls when the repair retry ran
    attempts: int  # 1, or 2 with the repair retry


def parse_verdict(text: str) -> Verdict:
    """Reads the critic's JSON answer; ValueError saying what is wrong when it does not read."""
    start = text.find("{")
    if start < 0:
        raise ValueError("the answer holds no JSON object")
    try:
        data, _end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON object does not parse: {exc.msg} at char {exc.pos}") from exc
    except RecursionError:  # json's decoder recurses per nesting level: `{"a": [[[[...`
        raise ValueError("the JSON object nests too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError("the answer must be a JSON object")
    missing = [k for k in ("score", "verdict", "reasons") if k not in data]
    if missing:
        raise ValueError(f"the JSON object lacks {missing}")
    score = data["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise ValueError(f"score must be a number, got {score!r}")
    if not 0 <= score <= 10:
        raise ValueError(f"score must be between 0 and 10, got {score}")
    verdict = data["verdict"]
    if not isinstance(verdict, str) or verdict.strip().lower() not in VERDICTS:
        raise ValueError(f"verdict must be one of {list(VERDICTS)}, got {verdict!r}")
    reasons = data["reasons"]
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError(f"reasons must be a list of strings, got {reasons!r}")
    return Verdict(
        float(score), verdict.strip().lower(), tuple(r.strip() for r in reasons if r.strip())
    )


class CriticCore:
    def __init__(self, model: ServedModel, settings: CriticSettings, rubrics: Mapping[str, str]):
        self.model = model
        self.settings = settings
        self.rubrics = dict(rubrics)

    async def score(
        self, trajectory: Trajectory, params: GenerationParams, rubric: str = ""
    ) -> ScoreResult:
        """Judges `trajectory` with `rubric` ("" = the configured default rubric, else the
        trajectory's env's, else "default")."""
        spec = ENVIRONMENTS.get(trajectory.task.env)
        env_rubric = spec.prompts.critic_rubric if spec else "default"
        rubric = rubric or self.settings.rubric or env_rubric
        if rubric not in self.rubrics:
            raise InvalidArgument(
                f"rubric {rubric!r} is not configured; use one of {sorted(self.rubrics)}"
            )
        if not trajectory.steps:
            raise InvalidArgument("trajectory has no steps; only finished episodes can be scored")
        env = trajectory.task.env
        if self.settings.scoring == "probability":
            return await self._probability(trajectory, rubric, env)
        messages = critic_messages(trajectory, rubric, self.rubrics)
        out = await self.model.generate(messages, params)
        usage = out.usage
        try:
            return ScoreResult(self._observe(parse_verdict(out.text), env), out.text, usage, 1)
        except ValueError as exc:
            reason = str(exc)
        # --- the repair retry: show the model its answer and why it did not read
        metrics.REPAIRS.labels(env=env).inc()
        repair = [
            *messages,
            ChatMessage("assistant", out.text),
            ChatMessage("user", f"That answer could not be read: {reason}. {CRITIC_FORMAT}"),
        ]
        again = await self.model.generate(repair, params)
        usage = usage + again.usage
        try:
            verdict = self._observe(parse_verdict(again.text), env)
        except ValueError as exc:
            metrics.UNPARSEABLE.labels(env=env).inc()
            log.info("critic answer unparseable after the retry (%s): %r", exc, again.text[:200])
            return ScoreResult(None, again.text, usage, 2)
        return ScoreResult(verdict, again.text, usage, 2)

    async def _probability(self, trajectory: Trajectory, rubric: str, env: str) -> ScoreResult:
        messages = critic_messages(trajectory, rubric, self.rubrics, question=True)
        yes, no = await self.model.score_continuations(messages, "", ANSWERS)
        p_yes = 1.0 / (1.0 + math.exp(no - yes))  # softmax over the two answers
        verdict = Verdict(
            score=round(10.0 * p_yes, 4),
            verdict="success" if p_yes >= 0.5 else "failure",
            reasons=(f"P(yes) = {p_yes:.3f} from the model's answer probabilities",),
        )
        raw = f"yes: {yes:.4f}, no: {no:.4f} (mean log-prob per token)"
        return ScoreResult(self._observe(verdict, env), raw, TokenUsage(), 1)

    @staticmethod
    def _observe(verdict: Verdict, env: str) -> Verdict:
        metrics.SCORES.labels(env=env).observe(verdict.score)
        return verdict
