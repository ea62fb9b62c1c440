"""One episode: the policy acts in an env session until the episode ends, with A3T exploration.

Exploration (DESIGN.md, round step 2): at every step, with probability `explore_probability`, the
policy's action is replaced by one sampled uniformly from the admissible actions (less the
`explore_skip_verbs`, commands that change nothing), and ActRe is asked
why one would take it; the step is recorded as `think: <rationale>` + the action, source SAMPLED.
After `invalid_limit` non-admissible policy actions in a row the next step is forced the same way
(source FORCED). The no-ActRe baseline samples the policy at a temperature instead (TEMPERATURE).
The template-rationale ablation writes one fixed sentence built from the action where ActRe would
answer (`TemplateRationale`, chosen by `rationale_writer`).

ActRe is asked only when its answer is read: a sampled step's rationale is requested just before
the policy next reads the history, and otherwise left pending (listed in the trajectory's
metadata, `unexplained_steps`) until the round's selection keeps the trajectory for training
(`explain_pending`). This changes no rationale: the ActRe prompt shows earlier actions and
observations but never earlier thoughts, so a rationale asked late sees exactly the prompt it
would have seen at once. Exploration with p = 1.0 then asks ActRe nothing, and only the
trajectories that are trained on are explained.

The services are reached through the Protocols of a3t_controller.ports, so this logic is
unit-tested with fakes; the controller passes gRPC-backed clients (a3t_controller.clients).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from a3t.envs.base import explorable
from a3t.trajectory import Step, StepSource, Task, TokenUsage, Trajectory
from a3t_controller.ports import ActReClient, EnvClient, PolicyClient


@dataclass(frozen=True)
class EpisodeSpec:
    """How to run one episode. `episode_id` is unique per (experiment, round, phase, task,
    attempt) and seeds every random choice, so a re-run after a crash replays the same draws."""

    episode_id: str
    env: str
    split: str
    task_id: str
    max_steps: int = 50
    explore_probability: float = 0.0
    invalid_limit: int = 3
    use_actre: bool = True  # False: the no-ActRe baseline (temperature sampling)
    temperature: float = 0.0  # policy temperature for its own steps
    explore_temperature: float = 1.0  # used by the no-ActRe baseline's exploration steps
    adapter: str = ""
    seed: int = 0
    # Verbs (first words) uniform exploration never samples: commands that read the world
    # without changing it (ALFWorld's look, inventory, examine, help). Random wins full of them
    # teach the policy to loop on them. The policy itself may still choose them.
    explore_skip_verbs: tuple[str, ...] = ()
    # When set, exploration samples only actions starting with one of these (WebShop: clicks).
    explore_only_prefixes: tuple[str, ...] = ()
    # Who writes the sampled steps' rationales: "actre", or "template" (`rationale_writer`).
    rationale: str = "actre"
    # Whether the policy grounds its non-admissible actions in this episode; None = the policy
    # client's setting. False plays an ungrounded evaluation (a3t_controller.rounds).
    ground_actions: bool | None = None
    # Whether every observation is stored and shown with the actions exploration could sample
    # there (`shown`): the model then writes its own actions in the env's words, from a list in
    # its context, instead of recalling object names from its training rooms.
    show_admissible: bool = False


class RolloutFailed(Exception):
    """This one rollout could not be played to its end: a service refused a request built from
    it (a prompt that cannot be fitted into the context, a game that fails to load, a model
    error on this input). The round loop plays it again with a fresh session, and after
    `MAX_ROLLOUT_RETRIES` drops its task's group for the phase (a3t_controller.rounds): a
    rollout that failed is never stored, so it can never train as a negative."""


class EpisodeInterrupted(RolloutFailed):
    """The env lost the episode's session, or a step's fate is unknown (the env did not
    answer): the round loop plays the episode again from the start (a3t_controller.patience)."""


async def run_episode(
    spec: EpisodeSpec,
    env: EnvClient,
    policy: PolicyClient,
    actre: ActReClient | None,
) -> Trajectory:
    """Plays one episode to the end and returns its trajectory (not yet stored)."""
    rng = random.Random(f"{spec.seed}:{spec.episode_id}")
    session = await env.create(spec.env, spec.split, spec.task_id)
    traj = Trajectory(
        task=session.task,
        initial_observation=shown(spec, session.observation, session.admissible),
        policy_adapter=spec.adapter,
    )
    admissible = session.admissible
    invalid_run = 0
    won = False
    reward = 0.0
    pending: list[int] = []  # indices of sampled steps whose rationale is not asked yet
    explained = False
    try:
        for _ in range(spec.max_steps):
            forced = invalid_run >= spec.invalid_limit
            explore = forced or (
                spec.explore_probability > 0 and rng.random() < spec.explore_probability
            )
            # Nothing to sample (e.g. WebShop's search page, whose text only the policy
            # writes): the policy acts.
            candidates = (
                explorable(admissible, spec.explore_skip_verbs, spec.explore_only_prefixes)
                if explore
                else []
            )
            if candidates:
                step = await _exploration_step(
                    spec, traj, admissible, candidates, rng, policy, forced
                )
                if step.source.synthesised:
                    pending.append(len(traj.steps))
            else:
                # The policy reads the thoughts of earlier steps: explain them first.
                explained = explained or bool(pending)
                traj = await _explain(spec.episode_id, traj, pending, actre)
                pending = []
                answer = await policy.act(
                    spec.episode_id,
                    traj.task,
                    traj.initial_observation,
                    traj.steps,
                    admissible,
                    temperature=spec.temperature,
                    seed=_seed(rng),
                    adapter=spec.adapter,
                    ground_actions=spec.ground_actions,
                )
                step = Step(
                    thought=answer.thought,
                    action=answer.action,
                    raw_text=answer.raw_text,
                    source=answer.source,
                    replaced_action=answer.replaced_action,
                    usage=answer.usage,
                )
            # No list means the env takes free text here (WebShop's search box).
            is_admissible = step.action in admissible or not admissible
            invalid_run = 0 if is_admissible else invalid_run + 1
            result = await env.step(session.session_id, step.action)
            step = replace(
                step,
                observation=shown(
                    spec, result.observation, () if result.done else result.admissible
                ),
                reward=result.reward,
                done=result.done,
                admissible=is_admissible,
            )
            traj = traj.with_step(step)
            admissible = result.admissible
            won, reward = result.won, max(reward, result.reward)
            if result.done:
                break
    finally:
        await env.close(session.session_id)
        await policy.end_episode(spec.episode_id)
        if explained and actre is not None:
            await actre.end_episode(spec.episode_id)
    if pending:
        metadata = {**traj.metadata, UNEXPLAINED: ",".join(map(str, pending))}
        traj = replace(traj, metadata=metadata)
    return replace(traj, won=won, reward=1.0 if won else reward)


VALID_ACTIONS = "Valid actions: "


def shown(spec: EpisodeSpec, observation: str, admissible: Sequence[str]) -> str:
    """The observation as stored, trained on and shown to the policy: with `show_admissible`,
    followed by a line listing the actions exploration samples from there (the admissible ones
    less `explore_skip_verbs`), sorted. An observation with nothing to list (the last one of a
    finished game, WebShop's search box) is left as the env wrote it."""
    choices = explorable(admissible, spec.explore_skip_verbs, spec.explore_only_prefixes)
    if not spec.show_admissible or not choices:
        return observation
    return f"{observation}\n{VALID_ACTIONS}{', '.join(choices)}."


UNEXPLAINED = "unexplained_steps"  # metadata key: indices of sampled steps without a rationale yet


def pending_steps(traj: Trajectory) -> list[int]:
    """Indices of the trajectory's sampled steps whose rationale has not been asked yet."""
    value = traj.metadata.get(UNEXPLAINED, "")
    return [int(i) for i in value.split(",")] if value else []


async def explain_pending(
    episode_id: str, traj: Trajectory, actre: ActReClient | None
) -> Trajectory:
    """The trajectory with every pending rationale filled in (what selection calls for the
    trajectories it keeps); `episode_id` keys ActRe's cache for these calls."""
    pending = pending_steps(traj)
    if not pending:
        return traj
    traj = await _explain(episode_id, traj, pending, actre)
    if actre is not None:
        await actre.end_episode(episode_id)
    metadata = {k: v for k, v in traj.metadata.items() if k != UNEXPLAINED}
    return replace(traj, metadata=metadata)


def as_explored(traj: Trajectory) -> Trajectory:
    """The trajectory with every synthesised step's rationale cleared and pending again, as
    exploration at p = 1 stores it: a fork of explored data (Store.fork_explored) has what its
    own selection keeps explained by its own rationale writer. At p < 1 the policy had read
    some of the cleared rationales during the episode; they are asked again."""
    pending = [i for i, s in enumerate(traj.steps) if s.source.synthesised]
    if not pending:
        return traj
    steps = tuple(
        replace(s, thought="", usage=TokenUsage()) if s.source.synthesised else s
        for s in traj.steps
    )
    metadata = {**traj.metadata, UNEXPLAINED: ",".join(map(str, pending))}
    return replace(traj, steps=steps, metadata=metadata)


class TemplateRationale:
    """The template-rationale ablation (experiment config `rationale: template`): an ActRe
    client that answers with one fixed sentence built from the action alone, asking no model."""

    async def explain(
        self,
        episode_id: str,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        action: str,
    ) -> tuple[str, TokenUsage]:
        return template_rationale(action), TokenUsage()

    async def end_episode(self, episode_id: str) -> None:
        return None


def template_rationale(action: str) -> str:
    return f"The next action is {action}."


def rationale_writer(rationale: str, actre: ActReClient | None) -> ActReClient | None:
    """What writes an experiment's rationales (config `rationale`): the ActRe service, or for
    "template" a `TemplateRationale`."""
    return TemplateRationale() if rationale == "template" else actre


async def _explain(
    episode_id: str, traj: Trajectory, pending: Sequence[int], actre: ActReClient | None
) -> Trajectory:
    """Fills in the rationales of the sampled steps `pending`, in order, each asked with the
    history before its step (what ActRe would have been shown when the action was taken)."""
    if not pending:
        return traj
    if actre is None:
        raise ValueError("exploration with ActRe needs an ActRe client")
    steps = list(traj.steps)
    for i in pending:
        rationale, usage = await actre.explain(
            episode_id, traj.task, traj.initial_observation, steps[:i], steps[i].action
        )
        steps[i] = replace(steps[i], thought=rationale, usage=usage)
    return replace(traj, steps=tuple(steps))


async def _exploration_step(
    spec: EpisodeSpec,
    traj: Trajectory,
    admissible: Sequence[str],
    candidates: Sequence[str],
    rng: random.Random,
    policy: PolicyClient,
    forced: bool,
) -> Step:
    """A sampled step: one of `candidates` (the explorable admissible actions) drawn uniformly,
    or for the no-ActRe baseline the policy's own sample at a temperature."""
    if spec.use_actre:  # the rationale is asked later (`_explain`), only when it is used
        return Step(
            action=rng.choice(candidates),
            source=StepSource.FORCED if forced else StepSource.SAMPLED,
        )
    # No-ActRe baseline: the policy's own sample at a temperature, thought and all.
    answer = await policy.act(
        spec.episode_id,
        traj.task,
        traj.initial_observation,
        traj.steps,
        admissible,
        temperature=spec.explore_temperature,
        seed=_seed(rng),
        adapter=spec.adapter,
        ground_actions=spec.ground_actions,
    )
    return Step(
        thought=answer.thought,
        action=answer.action,
        raw_text=answer.raw_text,
        source=StepSource.TEMPERATURE,
        usage=answer.usage,
    )


def _seed(rng: random.Random) -> int:
    return rng.randrange(1, 2**31)
