"""The A3T round loop: attempt -> explore -> select -> compose -> train -> evaluate -> promote.

Reads like DESIGN.md's "The A³T round". Every phase takes its inputs from the store and writes its
results there before the round moves on, and every episode is stored the moment it ends, so a
restart after kill -9 resumes at the phase it was in and skips the episodes it already has.
Before round 0 the base policy is evaluated once (stored as round -1) so every round has a
baseline. With a curriculum, each round trains on generated games of its level instead of
train_split; the level follows from the previous round's stored row (`curriculum_level`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from a3t.compose import (
    ComposeRules,
    TaskOutcome,
    WeightedTrajectory,
    compose,
    mix_chats,
    read_chat_file,
    write_dataset,
)
from a3t.envs import env_spec
from a3t.errors import FailedPrecondition, Unavailable
from a3t.trajectory import StepSource, Task, Trajectory
from a3t_controller import metrics
from a3t_controller.config import ExperimentConfig
from a3t_controller.episode import (
    EpisodeSpec,
    RolloutFailed,
    explain_pending,
    pending_steps,
    rationale_writer,
    run_episode,
)
from a3t_controller.ports import Services, TrainRequest
from a3t_controller.select import kept_by_all, select
from a3t_controller.store import (
    Decision,
    ExtraEvaluationRow,
    RoundRow,
    RoundStats,
    Store,
    StoredTrajectory,
)

log = logging.getLogger(__name__)

# Times a rollout is played again from the start (a fresh session) after it failed: the env lost
# its session (a restart or two is normal), or a service refused a request built from it. Then
# its task's group for the phase is dropped.
MAX_ROLLOUT_RETRIES = 3
# A phase that drops more than this share of its tasks' groups fails the experiment instead: a
# service is broken, and going on would train and evaluate on what little is left. Its drops are
# not recorded, so `a3t resume` plays them again once the service is fixed.
MAX_DROPPED_SHARE = 0.5
PHASES = ("attempt", "explore", "select", "compose", "train", "evaluate", "promote", "done")
BASE_ROUND = -1  # the evaluation of the base policy, before any training
# The evaluation's episodes, played with the policy client's grounding; with evaluate_ungrounded
# the same tasks again without grounding, under their own phase (`grounding`).
EVAL = "eval"
EVAL_UNGROUNDED = "eval_ungrounded"


@dataclass(frozen=True)
class Progress:
    experiment_id: str
    round: int
    phase: str
    done: int
    total: int
    message: str


class RoundRunner:
    def __init__(
        self,
        store: Store,
        services: Services,
        artifacts_dir: Path,
        on_progress: Callable[[Progress], None] | None = None,
        cpu_clock: Callable[[], float] | None = None,
    ):
        """`cpu_clock`: CPU seconds used so far by everything doing the work (`a3t run`: its
        process tree); with it each phase's stats record `cpu_s_<phase>` beside its
        `wall_s_<phase>`."""
        self._store = store
        self._svc = services
        self._artifacts = Path(artifacts_dir)
        self._on_progress = on_progress or (lambda p: None)
        self._cpu_clock = cpu_clock
        self._phase_started = self._clock()
        self._retried: Counter[str] = Counter()  # phase -> rollouts retried since it started

    # --- the experiment

    async def run(self, experiment_id: str) -> None:
        row = self._store.experiment(experiment_id)
        config = ExperimentConfig.from_dict(row.config)
        exp = row.experiment_id
        self._store.set_experiment(exp, state="running", error_message="")
        try:
            if config.chat_data_ratio > 0:  # a bad chat file fails now, not after a round
                read_chat_file(config.chat_data_uri)
            eval_tasks = await self._tasks(
                config.env, config.eval_split, config.max_eval_tasks, config.seed
            )
            train_tasks: list[Task] = []  # a curriculum draws them per round, in _round
            if not config.curriculum_levels:
                train_tasks = await self._tasks(
                    config.env, config.train_split, config.max_train_tasks, config.seed
                )
                check_held_out(train_tasks, eval_tasks)
            promoted = self._store.promoted_adapter(exp)
            if promoted is not None:  # the policy service may have restarted since
                await self._svc.policy_adapters.load_adapter(promoted.name, promoted.uri)
            if self._store.evaluation(exp, BASE_ROUND) is None:
                await self._evaluate(exp, config, BASE_ROUND, "", eval_tasks)
            for round_ in range(row.current_round, config.rounds):
                await self._round(exp, config, round_, train_tasks, eval_tasks)
            self._store.set_experiment(exp, state="succeeded", current_round=config.rounds)
        except asyncio.CancelledError:
            self._store.set_experiment(exp, state="cancelled")
            raise
        except Exception as exc:
            log.exception("experiment %s failed", exp)
            self._store.set_experiment(exp, state="failed", error_message=str(exc))
            raise

    async def _tasks(self, env: str, split: str, limit: int, seed: int = 0) -> list[Task]:
        """The split's tasks; with a limit, a sample of that many drawn with `seed`, stratified
        by task type (`stratified_sample`: the first N by id would be one task type, as real
        splits list their ids grouped by type)."""
        tasks = await self._svc.tasks.list_tasks(env, split)
        if not tasks:
            raise FailedPrecondition(f"split {split!r} has no tasks")
        if not limit or limit >= len(tasks):
            return tasks
        return stratified_sample(tasks, limit, f"{seed}:{split}")

    async def _round(
        self,
        exp: str,
        config: ExperimentConfig,
        round_: int,
        train_tasks: list[Task],
        eval_tasks: list[Task],
    ) -> None:
        promoted = self._store.promoted_adapter(exp)
        adapter = promoted.name if promoted else ""
        previous = self._store.round(exp, round_ - 1) if round_ > 0 else None
        level = curriculum_level(config, previous)
        p = config.explore_probability_at(round_)
        self._store.start_round(exp, round_, adapter, p, level)
        state = self._store.round(exp, round_)
        assert state is not None  # started just above
        adapter = state.policy_adapter  # the adapter this round started with, on resume too
        level = state.level
        phase = state.phase
        log.info("experiment %s round %d: resuming at %s", exp, round_, phase)
        self._phase_started = self._clock()  # a phase resumed after a restart counts from here
        if config.curriculum_levels:  # this round's training tasks: generated games of its level
            split = config.curriculum_split(level)
            count = config.curriculum_train_count
            await self._svc.tasks.generate(config.env, split, level, config.curriculum_seed, count)
            train_tasks = await self._tasks(config.env, split, config.max_train_tasks, config.seed)
            check_held_out(train_tasks, eval_tasks)
        # --- step 1: attempt every training task once, greedy
        if phase == "attempt":
            stats = await self._attempt(exp, config, round_, adapter, train_tasks)
            if config.curriculum_levels:
                stats = replace(stats, train_level=level, train_split=split)
            phase = self._advance(exp, round_, "explore", stats)
        # --- step 2: explore the failed tasks with sampled actions + ActRe rationales
        if phase == "explore":
            stats = await self._explore(exp, config, round_, adapter, train_tasks)
            phase = self._advance(exp, round_, "select", stats)
        # --- step 3: select the trajectories to learn from; ActRe explains the kept ones
        if phase == "select":
            decisions, stats = await self._select(exp, config, round_)
            explained = await self._explain_kept(exp, config, round_, decisions)
            # Recorded only once every kept trajectory is explained and stored: a restart
            # finds each either explained, or still pending and selected again.
            self._store.record_selection(exp, round_, decisions)
            checked, grounded = self._check_rationales(exp, config, round_, decisions)
            stats = replace(
                stats, explained=explained, rationales_checked=checked, rationales_grounded=grounded
            )
            phase = self._advance(exp, round_, "compose", stats)
        # --- step 4: contrastive composition into the accumulated pool
        if phase == "compose":
            stats = self._compose(exp, config, round_, eval_tasks)
            phase = self._advance(exp, round_, "train", stats)
        # --- step 5: train a new adapter on the whole pool
        if phase == "train":
            stats = await self._train(exp, config, round_)
            phase = self._advance(exp, round_, "evaluate", stats)
        # --- step 6: evaluate the new adapter, then promote it
        if phase == "evaluate":
            trained = self._store.adapter(exp, round_ + 1)
            await self._svc.policy_adapters.load_adapter(trained.name, trained.uri)
            stats = await self._evaluate(exp, config, round_, trained.name, eval_tasks)
            phase = self._advance(exp, round_, "promote", stats)
        if phase == "promote":
            stats = await self._promote(exp, config, round_)
            self._advance(exp, round_, "done", stats)

    async def _promote(self, exp: str, config: ExperimentConfig, round_: int) -> RoundStats:
        """The evaluated adapter becomes the policy's (and, with self-ActRe, ActRe's)."""
        trained = self._store.adapter(exp, round_ + 1)
        if config.self_actre and self._svc.actre_adapters is not None:
            await self._svc.actre_adapters.load_adapter(trained.name, trained.uri)
        self._store.promote_adapter(exp, round_ + 1)
        return RoundStats(promoted=trained.name)

    def _clock(self) -> tuple[float, float | None]:
        return time.monotonic(), self._cpu_clock() if self._cpu_clock else None

    def _advance(self, exp: str, round_: int, phase: str, stats: RoundStats) -> str:
        """Records the finished phase (the one before `phase`): its stats and what it cost."""
        finished = PHASES[PHASES.index(phase) - 1]
        (wall0, cpu0), (wall1, cpu1) = self._phase_started, self._clock()
        # A part of the phase timed on its own (the ungrounded evaluation) is recorded under
        # its own key by the phase, and left out of the phase's seconds: they add up.
        wall = {finished: round(wall1 - wall0 - sum(stats.wall_s.values()), 2)}
        cpu = {}
        if cpu0 is not None and cpu1 is not None:
            cpu = {finished: round(cpu1 - cpu0 - sum(stats.cpu_s.values()), 2)}
        stats = replace(stats, wall_s={**stats.wall_s, **wall}, cpu_s={**stats.cpu_s, **cpu})
        self._phase_started = (wall1, cpu1)
        self._store.set_round_phase(exp, round_, phase, stats)
        metrics.ROUND.set(round_)
        for name in PHASES:
            metrics.PHASE.labels(phase=name).set(int(name == phase))
        self._emit(exp, round_, phase, 0, 0, f"round {round_}: {phase}")
        return phase

    def _emit(self, exp: str, round_: int, phase: str, done: int, total: int, msg: str) -> None:
        self._on_progress(Progress(exp, round_, phase, done, total, msg))

    # --- episodes

    async def _episodes(
        self,
        exp: str,
        config: ExperimentConfig,
        round_: int,
        phase: str,
        tasks: Sequence[Task],
        adapter: str,
        p: float = 0.0,
        attempts: int = 1,
        wins_needed: int = 0,
        step_budget: int = 0,
        ground_actions: bool | None = None,
    ) -> RoundStats:
        """Plays up to `attempts` episodes of each task and stores each the moment it ends,
        skipping those already stored and the tasks whose group was dropped. A task's attempts
        run in order and stop once it has `wins_needed` wins (0: never). Tasks run side by side,
        at most `config.concurrency` episodes at once; the semaphore is first come, first
        served, so attempts go round-robin over the tasks still playing. With a `step_budget`,
        no episode starts that could take the phase's env steps (those stored, and max_steps
        for each episode in play) past it. `ground_actions`: asked of the policy on every step
        (None: the policy client's setting). A rollout that fails after its retries (`_play`)
        drops its task's group for the phase: a partial group is biased. Returns the phase's
        rollout stats (`_drop_groups`)."""
        played = self._store.trajectories(exp, round_, phase)
        stored = {(t.task_id, t.attempt): t.won for t in played}
        gone = self._store.dropped_groups(exp, round_, phase)
        total = len(tasks) * attempts
        done = sum(
            (t.task_id, a) in stored
            for t in tasks
            if t.task_id not in gone
            for a in range(attempts)
        )
        # Env steps of the phase's stored episodes and of those in play (counted at max_steps).
        spent = sum(len(t.trajectory.steps) for t in played)
        in_play = 0
        won = 0
        dropped: dict[str, str] = {}  # this run's drops, recorded when the phase ends
        sem = asyncio.Semaphore(config.concurrency)
        label = "base eval" if round_ == BASE_ROUND else phase
        where = f", p={p}" if p else ""
        self._emit(exp, round_, phase, done, total, f"{label}: {len(tasks)} tasks{where}")

        async def group(task: Task) -> None:
            nonlocal done, won, spent, in_play
            if task.task_id in gone:
                return
            wins = 0
            for attempt in range(attempts):
                if wins_needed and wins >= wins_needed:
                    break
                if (task.task_id, attempt) in stored:
                    wins += stored[task.task_id, attempt]
                    continue
                spec = self._spec(
                    exp, config, round_, phase, task, attempt, adapter, p, ground_actions
                )
                async with sem:
                    if step_budget and spent + in_play + spec.max_steps > step_budget:
                        return  # the budget is spent: no task starts another attempt
                    in_play += spec.max_steps
                    try:
                        traj = await self._play(spec, phase)
                    except RolloutFailed as exc:  # after its retries: the group is dropped
                        dropped[task.task_id] = str(exc)
                        return
                    finally:
                        in_play -= spec.max_steps
                spent += len(traj.steps)
                self._store.add_trajectory(exp, round_, phase, attempt, traj)
                metrics.EPISODES.labels(phase=phase, outcome="won" if traj.won else "lost").inc()
                wins += traj.won
                won += traj.won
                done += 1
                message = f"{label}: {done}/{total} episodes, {won} won this run"
                if step_budget:
                    message += f", {spent}/{step_budget} env steps"
                self._emit(exp, round_, phase, done, total, message)

        await all_or_none(group(t) for t in tasks)
        return self._drop_groups(exp, round_, phase, dropped, len(tasks))

    async def _play(self, spec: EpisodeSpec, phase: str) -> Trajectory:
        """One rollout, played again from the start with a fresh session when it fails (the env
        lost it, or a service refused this rollout's request; a3t_controller.episode). It is
        stored only when it ends, so nothing is lost or stored twice. Raises the last
        `RolloutFailed` after MAX_ROLLOUT_RETRIES retries: the caller drops the task's group."""
        actre = rationale_writer(spec.rationale, self._svc.actre)
        for tries in range(MAX_ROLLOUT_RETRIES + 1):
            try:
                return await run_episode(spec, self._svc.env, self._svc.policy, actre)
            except RolloutFailed as exc:
                if tries == MAX_ROLLOUT_RETRIES:
                    log.error(
                        "rollout %s failed %d times (last: %s); dropping its task's group",
                        spec.episode_id,
                        tries + 1,
                        exc,
                    )
                    raise
                log.warning(
                    "rollout %s failed (%s); playing it again (%d/%d)",
                    spec.episode_id,
                    exc,
                    tries + 1,
                    MAX_ROLLOUT_RETRIES,
                )
                metrics.ROLLOUTS_RETRIED.labels(phase=phase).inc()
                self._retried[phase] += 1
        raise AssertionError("unreachable")

    def _drop_groups(
        self, exp: str, round_: int, phase: str, dropped: dict[str, str], groups: int
    ) -> RoundStats:
        """Records the tasks whose rollouts of this phase failed after their retries (their
        group is not used: never stored as failures, never trained on) and returns the phase's
        rollout stats; fails the experiment instead when more than MAX_DROPPED_SHARE of the
        phase's `groups` are dropped (recording none, so a resume plays them again)."""
        before = self._store.dropped_groups(exp, round_, phase)
        total = len(before) + len(dropped)
        if dropped and total > MAX_DROPPED_SHARE * groups:
            task_id, reason = next(iter(sorted(dropped.items())))
            raise Unavailable(
                f"{phase}: the rollouts of {total} of {groups} tasks failed even when played "
                f"{MAX_ROLLOUT_RETRIES + 1} times (e.g. task {task_id}: {reason}); a service is "
                "failing: check its log, then `a3t resume` plays them again"
            )
        for task_id, reason in sorted(dropped.items()):
            self._store.drop_group(exp, round_, phase, task_id, MAX_ROLLOUT_RETRIES + 1, reason)
            metrics.GROUPS_DROPPED.labels(phase=phase).inc()
        return RoundStats(
            rollouts_retried={phase: self._retried.pop(phase, 0)}, groups_dropped={phase: total}
        )

    def _spec(
        self,
        exp: str,
        config: ExperimentConfig,
        round_: int,
        phase: str,
        task: Task,
        attempt: int,
        adapter: str,
        p: float,
        ground_actions: bool | None = None,
    ) -> EpisodeSpec:
        return EpisodeSpec(
            episode_id=f"{exp}:{round_}:{phase}:{task.task_id}:{attempt}",
            env=task.env,
            split=task.split,
            task_id=task.task_id,
            max_steps=config.max_steps,
            explore_probability=p,
            invalid_limit=config.invalid_limit if p > 0 else 10**9,
            use_actre=config.use_actre,
            adapter=adapter,
            seed=config.seed,
            explore_skip_verbs=config.explore_skip_verbs,
            explore_only_prefixes=config.explore_only_prefixes,
            rationale=config.rationale,
            ground_actions=ground_actions,
            show_admissible=config.show_admissible,
        )

    async def _attempt(
        self, exp: str, config: ExperimentConfig, round_: int, adapter: str, tasks: list[Task]
    ) -> RoundStats:
        rollouts = await self._episodes(exp, config, round_, "attempt", tasks, adapter)
        stored = self._store.trajectories(exp, round_, "attempt")
        solved = sum(t.won for t in stored)
        return replace(rollouts, attempt_total=len(stored), attempt_solved=solved)

    async def _explore(
        self, exp: str, config: ExperimentConfig, round_: int, adapter: str, tasks: list[Task]
    ) -> RoundStats:
        failed = {t.task_id for t in self._store.trajectories(exp, round_, "attempt") if not t.won}
        by_id = {t.task_id: t for t in tasks}
        p = config.explore_probability_at(round_)
        # Adaptive: each failed task is explored until it has the wins selection can keep, or
        # K attempts, within the round's env-step budget (DESIGN.md step 2; config.py).
        rollouts = await self._episodes(
            exp,
            config,
            round_,
            "explore",
            [by_id[t] for t in sorted(failed)],
            adapter,
            p,
            config.explore_attempts_for_env(),
            wins_needed=config.explore_wins_needed(),
            step_budget=config.explore_step_budget,
        )
        explored = self._explored(exp, round_)
        solved_tasks = {t.task_id for t in explored if t.won}
        return replace(
            rollouts,
            explore_failed_tasks=len(failed),
            explore_episodes=len(explored),
            explore_won=sum(t.won for t in explored),
            explore_solved=len(solved_tasks),
            explore_probability=p,
            explore_env_steps=sum(len(t.trajectory.steps) for t in explored),
        )

    def _explored(self, exp: str, round_: int) -> list[StoredTrajectory]:
        """The round's explored trajectories, less the dropped groups' (stored, never used)."""
        gone = self._store.dropped_groups(exp, round_, "explore")
        return [
            t for t in self._store.trajectories(exp, round_, "explore") if t.task_id not in gone
        ]

    # --- selection and composition

    async def _select(
        self, exp: str, config: ExperimentConfig, round_: int
    ) -> tuple[list[Decision], RoundStats]:
        """Every selector's decisions on the round's explored trajectories (scored by the
        critic first where a selector needs it), and the selection's stats."""
        candidates = self._explored(exp, round_)
        scores: dict[str, float | None] = {}
        if config.selector in ("critic", "hybrid"):
            if self._svc.critic is None:
                raise FailedPrecondition(
                    f"selector {config.selector!r} needs the critic service; set critic_target"
                )
            for i, cand in enumerate(candidates):
                scores[cand.trajectory_id], _ = await self._svc.critic.score(cand.trajectory)
                self._emit(exp, round_, "select", i + 1, len(candidates), "critic scoring")
        return select(candidates, config, scores, round_)

    async def _explain_kept(
        self, exp: str, config: ExperimentConfig, round_: int, decisions: Sequence[Decision]
    ) -> int:
        """Asks ActRe (or the template, config `rationale`) for the pending rationales of the
        trajectories every selector kept and stores them; returns how many trajectories were
        explained. Rationales are asked only for what will be trained on (episode.py)."""
        by_id = {c.trajectory_id: c for c in self._explored(exp, round_)}
        kept = kept_by_all((d.trajectory_id, d.kept) for d in decisions)
        todo = [by_id[t] for t in kept if pending_steps(by_id[t].trajectory)]
        actre = rationale_writer(config.rationale, self._svc.actre)
        # Several at once, like episodes: the engine batches their decoding.
        sem, done = asyncio.Semaphore(config.concurrency), 0

        async def explain(cand: StoredTrajectory) -> None:
            nonlocal done
            async with sem:
                traj = await explain_pending(cand.trajectory_id, cand.trajectory, actre)
            self._store.update_steps(cand.trajectory_id, traj)
            done += 1
            self._emit(exp, round_, "select", done, len(todo), "ActRe explaining kept episodes")

        await all_or_none(explain(c) for c in todo)
        return len(todo)

    def _check_rationales(
        self, exp: str, config: ExperimentConfig, round_: int, decisions: Sequence[Decision]
    ) -> tuple[int | None, int | None]:
        """How many rationales of the kept trajectories' synthesised steps the env's rationale
        check judged, and how many it found grounded (a3t.envs.base.EnvSpec.rationale_check);
        None for an env without a check. Read from the stored trajectories: a selection resumed
        after its rationales were stored counts the same."""
        check = env_spec(config.env).rationale_check
        if check is None:
            return None, None
        kept = set(kept_by_all((d.trajectory_id, d.kept) for d in decisions))
        checked = grounded = 0
        for cand in self._explored(exp, round_):
            if cand.trajectory_id not in kept:
                continue
            traj = cand.trajectory
            for i, step in enumerate(traj.steps):
                if step.source.synthesised:
                    checked += 1
                    grounded += not check(traj.initial_observation, traj.steps[:i], step)
        return checked, grounded

    def _compose(
        self, exp: str, config: ExperimentConfig, round_: int, eval_tasks: list[Task]
    ) -> RoundStats:
        attempts = self._store.trajectories(exp, round_, "attempt")
        explored = {t.trajectory_id: t for t in self._explored(exp, round_)}
        kept: dict[str, list[StoredTrajectory]] = defaultdict(list)
        rows = self._store.selections(exp, round_)
        for trajectory_id in kept_by_all((d.trajectory_id, d.kept) for d in rows):
            kept[explored[trajectory_id].task_id].append(explored[trajectory_id])
        rules = ComposeRules(
            base_negatives=config.base_negatives,
            real_valued_reward=config.real_valued_reward,
            sft_only=config.sft_only,
            truncate_negatives=config.truncate_negatives,
            per_step_weights=config.per_step_weights,
        )
        weighted: list[WeightedTrajectory] = []
        off_prompt = truncated = 0
        for attempt in attempts:
            positives = tuple(p.trajectory for p in kept.get(attempt.task_id, []))
            composed = compose(TaskOutcome(attempt.trajectory, positives), rules)
            off_prompt += composed.base_negatives_dropped
            truncated += composed.negatives_truncated
            weighted.extend(composed.items)
        held_out = {t.task_id for t in eval_tasks}
        leaked = [
            i.trajectory.trajectory_id for i in weighted if i.trajectory.task.task_id in held_out
        ]
        if leaked:  # never train on held-out tasks (DESIGN.md step 4)
            raise FailedPrecondition(f"held-out evaluation tasks reached the pool: {leaked}")
        size = self._store.add_to_pool(exp, round_, weighted)
        return RoundStats(
            selected=sum(len(v) for v in kept.values()),
            pool_added=len(weighted),
            pool_size=size,
            pool_positive=sum(i.weight > 0 for i in weighted),
            pool_negative=sum(i.weight < 0 for i in weighted),
            negatives_truncated=truncated,
            base_negatives_dropped=off_prompt,
        )

    # --- training

    async def _train(self, exp: str, config: ExperimentConfig, round_: int) -> RoundStats:
        name = self._store.experiment(exp).name
        round_dir = self._artifacts / name / f"round-{round_}"
        dataset = round_dir / "dataset.jsonl"
        output = round_dir / "adapter"
        pool = self._store.pool(exp)
        if not pool:
            raise FailedPrecondition(
                f"round {round_}: the training pool is empty (no task solved by the policy or "
                "by exploration); raise explore_attempts or explore_probability, or use easier "
                "tasks"
            )
        round_dir.mkdir(parents=True, exist_ok=True)
        chats = []
        if config.chat_data_ratio > 0:  # seeded per round: a resumed round writes the same
            chats = mix_chats(
                read_chat_file(config.chat_data_uri),
                len(pool),
                config.chat_data_ratio,
                config.seed + round_,
            )
        write_dataset(dataset, [*pool, *chats])
        previous = self._store.promoted_adapter(exp)
        # The trainer answers a request id it knows with that run: a run that failed would fail
        # a resumed experiment again, so a retry after a failure is a new request.
        request_id = f"{exp}-round-{round_}"
        before = self._store.training(exp, round_)
        if before is not None and before.state == "failed":
            tries = before.request_id.removeprefix(request_id).removeprefix("-retry")
            request_id += f"-retry{int(tries or 0) + 1}"
        request = TrainRequest(
            request_id=request_id,
            base_model=config.base_model,
            dataset_uri=str(dataset),
            output_uri=str(output),
            adapter_name=f"{name}-round-{round_}",
            adapter_version=round_ + 1,
            round=round_,
            epochs=config.epochs_for(round_),
            init_adapter_uri=(
                previous.uri if previous and config.continue_from_previous_adapter else ""
            ),
            learning_rate=config.learning_rate,
            lora_rank=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_target_modules=config.lora_target_modules,
            quantize_4bit=config.quantize_4bit,
            include_observation_tokens=config.include_observation_tokens,
            seed=config.seed,
        )

        def record(state: str, output_uri: str = request.output_uri, **done) -> None:
            self._store.record_training(
                exp,
                round_,
                request_id=request.request_id,
                state=state,
                dataset_uri=request.dataset_uri,
                output_uri=output_uri,
                n_examples=len(pool) + len(chats),
                **done,
            )

        def progress(step: int, total: int, message: str) -> None:
            self._emit(exp, round_, "train", step, total, message)

        record("running")
        try:
            result = await self._svc.trainer.train(request, progress)
        except Exception:
            record("failed")
            raise
        record("succeeded", result.adapter_uri, run_id=result.run_id, metrics=result.metrics)
        self._store.add_adapter(exp, round_ + 1, request.adapter_name, result.adapter_uri, round_)
        return RoundStats(
            adapter=request.adapter_name,
            train_examples=len(pool),
            train_chat_examples=len(chats),
            train_metrics=dict(result.metrics),
        )

    # --- evaluation

    async def _evaluate(
        self, exp: str, config: ExperimentConfig, round_: int, adapter: str, tasks: list[Task]
    ) -> RoundStats:
        """One greedy episode of each held-out task, with the policy client's grounding; with
        evaluate_ungrounded the same tasks again without grounding (EVAL_UNGROUNDED, timed on
        its own). Recorded once both are played: a restart before that finds no evaluation and
        plays what is not stored yet."""
        # The base model is evaluated as round -1; its episodes live under that round too.
        name = adapter or "base"
        rollouts = await self._episodes(exp, config, round_, EVAL, tasks, name)
        results = self._store.trajectories(exp, round_, EVAL)
        rate, by_type = success_rates(results)
        share = admissible_share([r.trajectory for r in results])
        solved_ever = {t.task_id for t in self._store.trajectories(exp, phase=EVAL) if t.won}
        cumulative = len(solved_ever & {t.task_id for t in tasks}) / len(tasks)
        stats = replace(
            rollouts,
            eval_success_rate=rate,
            cumulative_success_rate=cumulative,
            eval_admissible_share=share,
        )
        if config.evaluate_ungrounded:
            stats = await self._evaluate_ungrounded(exp, config, round_, name, tasks, stats)
        if config.extra_eval_splits:
            stats = await self._evaluate_extra(exp, config, round_, stats)
        self._store.record_evaluation(
            exp,
            round_,
            adapter,
            len(results),
            rate,
            by_type,
            cumulative,
            admissible_share=share,
            ungrounded_success_rate=stats.eval_ungrounded_success_rate,
            ungrounded_admissible_share=stats.eval_ungrounded_admissible_share,
        )
        metrics.EVAL_SUCCESS.labels(round=str(round_)).set(rate)
        log.info("experiment %s round %d eval: %.1f%% (%s)", exp, round_, 100 * rate, name)
        return stats

    async def _evaluate_extra(
        self, exp: str, config: ExperimentConfig, round_: int, stats: RoundStats
    ) -> RoundStats:
        """Each of extra_eval_splits played by the same policy, grounded, recorded as an extra
        evaluation of the round (`evaluate_stored`: resumable, each split under its own phase);
        timed apart from the evaluation, under "eval_extra" (`_advance`)."""
        started = self._clock()
        for split in config.extra_eval_splits:
            extra = await self.evaluate_stored(
                exp, round_, split, grounded=True, count=config.max_extra_eval_tasks
            )
            log.info(
                "experiment %s round %d eval on %s: %.1f%% of %d",
                exp,
                round_,
                split,
                100 * extra.success_rate,
                extra.n_tasks,
            )
        wall, cpu = self._since(started)
        return replace(
            stats,
            wall_s={**stats.wall_s, "eval_extra": wall},
            cpu_s={**stats.cpu_s, **({} if cpu is None else {"eval_extra": cpu})},
        )

    async def _evaluate_ungrounded(
        self,
        exp: str,
        config: ExperimentConfig,
        round_: int,
        adapter: str,
        tasks: list[Task],
        stats: RoundStats,
    ) -> RoundStats:
        """The held-out tasks played with grounding off, added to the evaluation's `stats`
        with its own seconds (`_advance` leaves them out of the evaluate phase's). Its success
        is left unrecorded, with a warning, when the policy grounded some step anyway: a policy
        service whose own settings ground every caller (a3t_policy.config: a request can turn
        grounding on, not off) would otherwise pass grounded numbers for ungrounded ones."""
        started = self._clock()
        rollouts = await self._episodes(
            exp, config, round_, EVAL_UNGROUNDED, tasks, adapter, ground_actions=False
        )
        played = self._store.trajectories(exp, round_, EVAL_UNGROUNDED)
        wall, cpu = self._since(started)
        stats = replace(
            stats,
            rollouts_retried={**stats.rollouts_retried, **rollouts.rollouts_retried},
            groups_dropped={**stats.groups_dropped, **rollouts.groups_dropped},
            wall_s={**stats.wall_s, EVAL_UNGROUNDED: wall},
            cpu_s={**stats.cpu_s, **({} if cpu is None else {EVAL_UNGROUNDED: cpu})},
        )
        grounded = grounded_steps(played)
        if grounded:
            log.warning(
                "experiment %s round %d: the ungrounded evaluation got %d grounded steps: the "
                "policy service grounds every caller's actions (its ground_actions setting), "
                "so no ungrounded success is recorded; set it false there to measure it",
                exp,
                round_,
                grounded,
            )
            return stats
        rate, _ = success_rates(played)
        share = admissible_share([t.trajectory for t in played])
        log.info("experiment %s round %d eval, ungrounded: %.1f%%", exp, round_, 100 * rate)
        return replace(
            stats, eval_ungrounded_success_rate=rate, eval_ungrounded_admissible_share=share
        )

    def _since(self, started: tuple[float, float | None]) -> tuple[float, float | None]:
        """Wall and CPU seconds (None without a CPU clock) since `started` (`_clock()`)."""
        (wall0, cpu0), (wall1, cpu1) = started, self._clock()
        cpu = None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 2)
        return round(wall1 - wall0, 2), cpu

    async def evaluate_stored(
        self, experiment: str, round_: int, split: str, *, grounded: bool, count: int = 0
    ) -> ExtraEvaluationRow:
        """`a3t evaluate`: the adapter trained in `round_` (BASE_ROUND: the base model) plays
        one greedy episode of each task of `split` (a seeded sample of `count` stratified by
        task type, drawn as the experiment draws its own; 0 = every task), grounded or not,
        with the experiment's settings (max_steps, concurrency, seed). Its episodes are stored
        under their own phase (`extra_eval_phase`), never among the rounds', so a run stopped
        half-way resumes them; the result goes to extra_evaluations. The experiment's rounds
        and state are left as they are. Raises NotFound for a round without an adapter."""
        row = self._store.experiment(experiment)
        exp, config = row.experiment_id, ExperimentConfig.from_dict(row.config)
        adapter = "base"
        if round_ != BASE_ROUND:
            trained = self._store.adapter(exp, round_ + 1)
            await self._svc.policy_adapters.load_adapter(trained.name, trained.uri)
            adapter = trained.name
        tasks = await self._tasks(config.env, split, count, config.seed)
        phase = extra_eval_phase(split, count, grounded)
        started = self._clock()
        await self._episodes(exp, config, round_, phase, tasks, adapter, ground_actions=grounded)
        played = self._store.trajectories(exp, round_, phase)
        if not grounded and grounded_steps(played):
            raise FailedPrecondition(
                f"the policy grounded {grounded_steps(played)} steps of an ungrounded "
                "evaluation: its service grounds every caller's actions (ground_actions in its "
                "settings); start it without that setting"
            )
        rate, by_type = success_rates(played)
        wall, cpu = self._since(started)
        result = ExtraEvaluationRow(
            experiment_id=exp,
            round=round_,
            adapter=adapter,
            split=split,
            grounded=grounded,
            sample=count,
            phase=phase,
            n_tasks=len(played),
            success_rate=rate,
            by_type=by_type,
            admissible_share=admissible_share([t.trajectory for t in played]),
            wall_s=wall,
            cpu_s=cpu,
            create_time=time.time(),
        )
        self._store.record_extra_evaluation(result)
        return result


async def all_or_none(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Runs the coroutines side by side; when one raises, the others are cancelled (and
    awaited) before the error goes on. A bare gather would leave them playing and storing
    episodes after the experiment failed, beside the episodes of its resume."""
    jobs = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*jobs)
    except BaseException:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        raise


def curriculum_level(config: ExperimentConfig, previous: RoundRow | None) -> int:
    """The generated level a round trains on; 0 without a curriculum.

    Round 0 takes the first listed level; a later round takes the previous round's level (its
    stored row, `previous`), moved up to the next listed level once that round's attempt success
    rate reached curriculum_threshold, and never past the last. Only stored values go in, so a
    resumed experiment finds the same levels.
    """
    levels = config.curriculum_levels
    if not levels:
        return 0
    if previous is None:
        return levels[0]
    at = levels.index(previous.level)
    solved, total = previous.stats.attempt_solved, previous.stats.attempt_total
    if solved is not None and total and solved / total >= config.curriculum_threshold:
        at = min(at + 1, len(levels) - 1)
    return levels[at]


def check_held_out(train: list[Task], evaluation: list[Task]) -> None:
    """Refuses an experiment whose training tasks include a held-out task."""
    overlap = sorted({t.task_id for t in train} & {t.task_id for t in evaluation})
    if overlap:
        raise FailedPrecondition(
            f"{len(overlap)} evaluation tasks are also training tasks (e.g. {overlap[0]!r}); "
            "held-out tasks must never be trained on: use disjoint splits"
        )


def extra_eval_phase(split: str, count: int, grounded: bool) -> str:
    """The phase under which `a3t evaluate` stores its episodes: one per split, sample size
    (0 = the whole split) and grounding, so evaluating the same again resumes, and never a
    phase of the rounds'."""
    return f"evaluate:{split}:{count or 'all'}:{'grounded' if grounded else 'ungrounded'}"


def stratified_sample(tasks: Sequence[Task], count: int, seed: int | str) -> list[Task]:
    """`count` of `tasks`, drawn with `seed`, as evenly over task types as the types allow,
    sorted by task id. Each type gets count // types tasks; a type with fewer gives all it has
    and the rest is shared among the others the same way; the tasks left over after an even
    share go to types drawn with the seed. The same tasks and seed give the same sample."""
    if count >= len(tasks):
        return sorted(tasks, key=lambda t: t.task_id)
    rng = random.Random(seed)
    by_type: dict[str, list[Task]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.task_id):
        by_type[task.task_type].append(task)
    order = sorted(by_type)
    rng.shuffle(order)  # which types take the remainder
    quota = dict.fromkeys(order, 0)
    left = count
    while left > 0:
        open_types = [t for t in order if quota[t] < len(by_type[t])]
        share, extra = divmod(left, len(open_types))
        for i, kind in enumerate(open_types):
            take = min(share + (i < extra), len(by_type[kind]) - quota[kind])
            quota[kind] += take
            left -= take
    picked = [t for kind in sorted(by_type) for t in rng.sample(by_type[kind], quota[kind])]
    return sorted(picked, key=lambda t: t.task_id)


def admissible_share(trajectories: Sequence[Trajectory]) -> float | None:
    """The share of the policy's own steps (POLICY, GROUNDED) whose generated action was
    admissible before any grounding: a GROUNDED step's was not (grounding replaced it), a
    POLICY step's was when the env admitted it. Sampled and temperature steps are not the
    policy's greedy choice and are left out. None when there is no policy step."""
    own = [
        s
        for t in trajectories
        for s in t.steps
        if s.source in (StepSource.POLICY, StepSource.GROUNDED)
    ]
    if not own:
        return None
    return sum(s.source is StepSource.POLICY and s.admissible for s in own) / len(own)


def grounded_steps(played: Sequence[StoredTrajectory]) -> int:
    """The steps of `played` whose action grounding replaced."""
    return sum(s.source is StepSource.GROUNDED for t in played for s in t.trajectory.steps)


def success_rates(played: Sequence[StoredTrajectory]) -> tuple[float, dict[str, float]]:
    """The share of `played` won, and per task type (sorted by type); (0.0, {}) for none."""
    by_type: dict[str, list[bool]] = defaultdict(list)
    for t in played:
        by_type[t.task_type].append(t.won)
    rates = {k: sum(v) / len(v) for k, v in sorted(by_type.items())}
    return (sum(t.won for t in played) / len(played) if played else 0.0), rates
