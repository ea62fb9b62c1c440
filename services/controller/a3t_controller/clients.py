"""gRPC-backed implementations of the controller's interfaces (a3t_controller.ports).

Every call has a deadline; idempotent calls are retried on UNAVAILABLE / DEADLINE_EXCEEDED with
backoff for up to the controller's wait budget (a3t_controller.patience); an env Step is sent once,
since a retried step could act twice: when its fate is unknown or the env lost the session, the
episode is interrupted and played again. A model service that restarted has lost its adapters:
the client loads them again and repeats the request.
Env sessions stay on the replica that created them because one channel keeps one connection
(gRPC's default pick_first policy): the controller uses a single env channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
from grpc import aio

from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
from a3t.artifacts import read_manifest
from a3t.common.v1 import types_pb2
from a3t.convert import (
    source_from_pb,
    step_to_pb,
    task_from_pb,
    task_to_pb,
    trajectory_to_pb,
    usage_from_pb,
)
from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.errors import A3tError, FailedPrecondition
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.rpc.client import RETRYABLE
from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from a3t.trajectory import Step, Task, TokenUsage, Trajectory
from a3t_controller.episode import EpisodeInterrupted, RolloutFailed
from a3t_controller.patience import Patience, ServiceFailed
from a3t_controller.ports import EnvAnswer, PolicyAnswer, SessionView, TrainRequest, TrainResult

log = logging.getLogger(__name__)

# Loading a game takes 1-2 s, a model step on a CPU several; leave room under load.
ENV_TIMEOUT = 120.0
MODEL_TIMEOUT = 300.0

# Codes by which a service refuses a request built from one rollout (a prompt that cannot be
# fitted into the context, a model or engine error on this input): the rollout is played again
# and, if it keeps failing, its task's group is dropped (a3t_controller.rounds). Every other
# code (UNAVAILABLE once the wait budget is spent, FAILED_PRECONDITION, UNAUTHENTICATED, ...)
# is about the service or the setup, and fails the experiment (resumable).
ROLLOUT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)


# A game that fails to load is this rollout's problem; a task or split the env does not know, or
# its max_sessions reached, is the setup's.
CREATE_ROLLOUT_CODES = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)


@contextlib.contextmanager
def _rollout_call(service: str, codes: frozenset = ROLLOUT_CODES) -> Iterator[None]:
    """Turns a refusal of this rollout's request into `RolloutFailed`, naming the service."""
    try:
        yield
    except ServiceFailed as exc:
        if exc.status in codes:
            raise RolloutFailed(f"{service}: {exc.status.name}: {exc.details}") from exc
        raise


class GrpcEnv:
    def __init__(self, channel: aio.Channel, patience: Patience | None = None):
        self._stub = env_pb2_grpc.EnvServiceStub(channel)
        self._patience = patience or Patience()

    async def _call(self, method: Callable, request, timeout: float = ENV_TIMEOUT):
        return await self._patience.call("env", method, request, timeout=timeout)

    async def list_tasks(self, env: str, split: str) -> list[Task]:
        tasks: list[Task] = []
        token = ""
        while True:
            resp = await self._call(
                self._stub.ListTasks,
                env_pb2.ListTasksRequest(env=env, split=split, page_size=500, page_token=token),
            )
            tasks.extend(task_from_pb(t) for t in resp.tasks)
            token = resp.next_page_token
            if not token:
                return tasks

    async def generate(self, env: str, split: str, level: int, seed: int, count: int) -> int:
        resp = await self._call(
            self._stub.GenerateTasks,
            env_pb2.GenerateTasksRequest(env=env, split=split, level=level, seed=seed, count=count),
            timeout=600.0,
        )
        return resp.total_size

    async def create(self, env: str, split: str, task_id: str) -> SessionView:
        # One request id per open, sent again on every retry of it: an open whose answer was
        # lost (deadline, restart of the connection) is not opened twice on the env (AIP-155).
        # A busy env (RESOURCE_EXHAUSTED with a RetryInfo) is retried after the delay it asks.
        request = env_pb2.CreateSessionRequest(
            env=env, split=split, task_id=task_id, request_id=str(uuid.uuid4())
        )
        with _rollout_call("env", CREATE_ROLLOUT_CODES):
            resp = await self._call(self._stub.CreateSession, request)
        return SessionView(
            resp.session_id,
            task_from_pb(resp.task),
            resp.observation,
            tuple(resp.admissible_actions),
        )

    async def step(self, session_id: str, action: str) -> EnvAnswer:
        try:
            resp = await self._stub.Step(
                env_pb2.StepRequest(session_id=session_id, action=action), timeout=ENV_TIMEOUT
            )
        except aio.AioRpcError as exc:
            # Sent once: a retried step could act twice. Unreachable (the step's fate unknown)
            # or NOT_FOUND (the env restarted, or the session expired while the controller
            # waited for another service): the episode is played again from the start.
            lost = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ABORTED)  # ABORTED: worker died
            if exc.code() in RETRYABLE or exc.code() in lost:
                raise EpisodeInterrupted(f"env step: {exc.code().name}: {exc.details()}") from exc
            if exc.code() in ROLLOUT_CODES:
                raise RolloutFailed(f"env step: {exc.code().name}: {exc.details()}") from exc
            raise self._patience.failed("env", exc) from exc
        return EnvAnswer(
            resp.observation, resp.reward, resp.done, resp.won, tuple(resp.admissible_actions)
        )

    async def close(self, session_id: str) -> None:
        try:
            await self._call(
                self._stub.CloseSession, env_pb2.CloseSessionRequest(session_id=session_id)
            )
        except ServiceFailed as exc:
            # A session that expired or died with its worker is already gone: nothing to free.
            if exc.status != grpc.StatusCode.NOT_FOUND:
                raise


class GrpcAdapters:
    """LoadAdapter on any of the model services (same request type everywhere). Remembers what
    it loaded, so that a service that restarted (and lost its adapters) can be given them
    again (`call_reloading`)."""

    def __init__(self, method: Callable, service: str, patience: Patience):
        self._method = method
        self._service = service
        self._patience = patience
        self.loaded: dict[str, str] = {}  # name -> uri
        self._reload_lock = asyncio.Lock()
        self._reloads = 0  # reloads done after a restart; calls that failed before one retry

    async def load_adapter(self, name: str, uri: str) -> None:
        await self._patience.call(
            self._service,
            self._method,
            types_pb2.LoadAdapterRequest(adapter=types_pb2.AdapterRef(name=name, uri=uri)),
            timeout=MODEL_TIMEOUT,
        )
        self.loaded[name] = uri

    async def call_reloading(self, method: Callable, request, adapter: str):
        """`method(request)` through patience; if the service answers that `adapter` (one this
        client loaded) is not loaded, it restarted: load it again and repeat. Concurrent calls
        that hit the same restart share one reload (a second reload replacing the adapter while
        a repeated call runs would fail that call again: seen with two episodes at once)."""
        for tries in range(3):
            generation = self._reloads
            try:
                return await self._patience.call(
                    self._service, method, request, timeout=MODEL_TIMEOUT
                )
            except ServiceFailed as exc:
                lost = exc.status == grpc.StatusCode.NOT_FOUND and adapter in self.loaded
                if not lost or tries == 2:
                    raise
            async with self._reload_lock:
                if self._reloads == generation:  # nobody reloaded since this call failed
                    log.warning(
                        "%s lost adapter %s (restarted?); loading it again", self._service, adapter
                    )
                    await self.load_adapter(adapter, self.loaded[adapter])
                    self._reloads += 1
        raise AssertionError("unreachable")


class GrpcPolicy:
    def __init__(
        self,
        channel: aio.Channel,
        ground_actions: bool = False,
        max_new_tokens: int = 0,
        patience: Patience | None = None,
    ):
        self._stub = policy_pb2_grpc.PolicyServiceStub(channel)
        self._patience = patience or Patience()
        self.adapters = GrpcAdapters(self._stub.LoadAdapter, "policy", self._patience)
        self._ground = ground_actions
        self._max_new_tokens = max_new_tokens

    async def act(
        self,
        episode_id: str,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        admissible: Sequence[str],
        *,
        temperature: float,
        seed: int,
        adapter: str,
        ground_actions: bool | None = None,
    ) -> PolicyAnswer:
        request = policy_pb2.ActRequest(
            episode_id=episode_id,
            task=task_to_pb(task),
            initial_observation=initial_observation,
            history=[step_to_pb(s) for s in history],
            admissible_actions=list(admissible),
            params=types_pb2.GenerationParams(
                temperature=temperature, seed=seed, max_new_tokens=self._max_new_tokens
            ),
            adapter=adapter,
            ground_actions=self._ground if ground_actions is None else ground_actions,
        )
        with _rollout_call("policy"):
            resp = await self.adapters.call_reloading(self._stub.Act, request, adapter)
        return PolicyAnswer(
            thought=resp.thought,
            action=resp.action,
            raw_text=resp.raw_text,
            usage=usage_from_pb(resp.usage),
            source=source_from_pb(resp.source),
            replaced_action=resp.replaced_action,
        )

    async def end_episode(self, episode_id: str) -> None:
        await self._patience.call(
            "policy",
            self._stub.EndEpisode,
            policy_pb2.EndEpisodeRequest(episode_id=episode_id),
            timeout=MODEL_TIMEOUT,
        )


class GrpcActRe:
    def __init__(self, channel: aio.Channel, patience: Patience | None = None):
        self._stub = actre_pb2_grpc.ActReServiceStub(channel)
        self._patience = patience or Patience()
        self.adapters = GrpcAdapters(self._stub.LoadAdapter, "actre", self._patience)

    async def explain(
        self,
        episode_id: str,
        task: Task,
        initial_observation: str,
        history: Sequence[Step],
        action: str,
    ) -> tuple[str, TokenUsage]:
        request = actre_pb2.ExplainRequest(
            task=task_to_pb(task),
            initial_observation=initial_observation,
            history=[step_to_pb(s) for s in history],
            action=action,
            episode_id=episode_id,
        )
        with _rollout_call("actre"):
            resp = await self._patience.call(
                "actre", self._stub.Explain, request, timeout=MODEL_TIMEOUT
            )
        return resp.rationale, usage_from_pb(resp.usage)

    async def end_episode(self, episode_id: str) -> None:
        await self._patience.call(
            "actre",
            self._stub.EndEpisode,
            actre_pb2.EndEpisodeRequest(episode_id=episode_id),
            timeout=MODEL_TIMEOUT,
        )


class GrpcCritic:
    def __init__(self, channel: aio.Channel, rubric: str = "", patience: Patience | None = None):
        self._stub = critic_pb2_grpc.CriticServiceStub(channel)
        self._rubric = rubric
        self._patience = patience or Patience()

    async def score(self, traj: Trajectory) -> tuple[float | None, str]:
        resp = await self._patience.call(
            "critic",
            self._stub.Score,
            critic_pb2.ScoreRequest(trajectory=trajectory_to_pb(traj), rubric=self._rubric),
            timeout=MODEL_TIMEOUT,
        )
        if resp.status != critic_pb2.SCORE_STATUS_OK:
            return None, "unparseable"
        return resp.score, resp.verdict


_FINAL = {
    trainer_pb2.TRAINING_RUN_STATE_SUCCEEDED,
    trainer_pb2.TRAINING_RUN_STATE_FAILED,
    trainer_pb2.TRAINING_RUN_STATE_CANCELLED,
}


class GrpcTrainer:
    def __init__(self, channel: aio.Channel, patience: Patience | None = None):
        self._stub = trainer_pb2_grpc.TrainerServiceStub(channel)
        self._patience = patience or Patience()

    async def train(
        self, request: TrainRequest, on_progress: Callable[[int, int, str], None]
    ) -> TrainResult:
        spec = trainer_pb2.TrainingSpec(
            base_model=request.base_model,
            dataset_uri=request.dataset_uri,
            output_uri=request.output_uri,
            adapter_name=request.adapter_name,
            adapter_version=request.adapter_version,
            init_adapter_uri=request.init_adapter_uri,
            epochs=request.epochs,
            learning_rate=request.learning_rate,
            lora_rank=request.lora_rank,
            lora_alpha=request.lora_alpha,
            lora_target_modules=list(request.lora_target_modules),
            quantize_4bit=request.quantize_4bit,
            include_observation_tokens=request.include_observation_tokens,
            seed=request.seed,
            round=request.round,
        )
        # Idempotent per request_id: after a controller restart this finds the same run.
        run = await self._patience.call(
            "trainer",
            self._stub.CreateTrainingRun,
            trainer_pb2.CreateTrainingRunRequest(request_id=request.request_id, spec=spec),
            timeout=MODEL_TIMEOUT,
        )
        while run.state not in _FINAL:
            try:
                async for update in self._stub.WatchTrainingRun(
                    trainer_pb2.WatchTrainingRunRequest(run_id=run.run_id)
                ):
                    run = update
                    p = run.progress
                    on_progress(
                        p.step,
                        p.total_steps,
                        f"train: epoch {p.epoch + 1}, step {p.step}/{p.total_steps}, loss "
                        f"{p.loss:.4f} (positive {p.loss_positive:.4f}, "
                        f"negative {p.loss_negative:.4f}), "
                        f"{p.tokens_per_second:.0f} tok/s, ETA {p.eta_seconds:.0f}s",
                    )
            except aio.AioRpcError as exc:
                if exc.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise self._patience.failed("trainer", exc) from exc
                log.warning(
                    "trainer unavailable (%s); re-watching run %s", exc.details(), run.run_id
                )
                # The trainer resumes its runs when it restarts (a3t_trainer.runs): wait for
                # it, then watch the same run again.
                run = await self._patience.call(
                    "trainer",
                    self._stub.GetTrainingRun,
                    trainer_pb2.GetTrainingRunRequest(run_id=run.run_id),
                    timeout=MODEL_TIMEOUT,
                )
        if run.state != trainer_pb2.TRAINING_RUN_STATE_SUCCEEDED:
            state = trainer_pb2.TrainingRunState.Name(run.state)
            raise FailedPrecondition(
                f"training run {run.run_id} ended {state}: {run.error_message or 'no message'}"
            )
        p = run.progress
        uri = run.output.uri or request.output_uri
        metrics = {
            "loss": p.loss,
            "loss_positive": p.loss_positive,
            "loss_negative": p.loss_negative,
            "steps": float(p.step),
            "tokens_per_second": p.tokens_per_second,
        }
        return TrainResult(run_id=run.run_id, adapter_uri=uri, metrics=_epoch_losses(uri, metrics))


def _epoch_losses(adapter_uri: str, metrics: dict[str, float]) -> dict[str, float]:
    """`metrics` with the losses of the last epoch (its mean, from the adapter manifest) in
    place of the last progress message's, which is one optimizer step's. The controller shares
    the artifacts storage with the trainer; if the manifest cannot be read the step's stay."""
    try:
        found = read_manifest(Path(adapter_uri)).get("metrics", {})
    except A3tError as exc:
        log.warning("adapter manifest unreadable (%s); round stats keep the last step's loss", exc)
        return metrics
    means = {k: float(found[k]) for k in ("loss", "loss_positive", "loss_negative") if k in found}
    return {**metrics, **means}
