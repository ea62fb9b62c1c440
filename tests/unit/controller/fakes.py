"""In-memory fakes of the services the controller drives, for unit tests of its logic."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

from a3t.artifacts import write_manifest
from a3t.trajectory import StepSource, Task, TokenUsage
from a3t_controller.episode import EpisodeInterrupted, RolloutFailed
from a3t_controller.ports import EnvAnswer, PolicyAnswer, Services, SessionView, TrainResult


def tasks(split: str, n: int, start: int = 0) -> list[Task]:
    return [
        Task(
            "alfworld",
            f"pick_and_place_simple-T{i}/trial",
            split,
            "pick_and_place_simple" if i % 2 else "look_at_obj_in_light",
        )
        for i in range(start, start + n)
    ]


class FakeEnv:
    """A task is won by its key action `open box <n>`; admissible: look, the key, two decoys."""

    def __init__(self, splits: dict[str, list[Task]]):
        self.splits = splits
        self.sessions: dict[str, Task] = {}
        self.ids = itertools.count()
        self.crash_after: int | None = None  # raise after this many creates (crash simulation)
        self.creates = 0
        self.step_delay = 0.0  # seconds; lets a watcher attach while episodes run
        self.generated: list[tuple[str, int, int, int]] = []  # (split, level, seed, count) calls
        self.lose_sessions = 0  # the next N steps find their session gone (an env restart)
        # task id -> which of its sessions (1 = the first opened) are refused at their first
        # step, as a service refuses a request it cannot serve (a prompt that does not fit)
        self.refuse: dict[str, range] = {}
        self.opened: dict[str, int] = {}  # task id -> sessions created

    @staticmethod
    def key(task: Task) -> str:
        return f"open box {task.task_id.split('-T')[1].split('/')[0]}"

    def admissible(self, task: Task) -> tuple[str, ...]:
        return ("look", self.key(task), "go to shelf 1", "go to desk 1")

    async def list_tasks(self, env: str, split: str) -> list[Task]:
        assert env == "alfworld"
        return list(self.splits[split])

    async def generate(self, env: str, split: str, level: int, seed: int, count: int) -> int:
        """Level L's games are tasks T{100 L}.. (even numbers are the ones an adapter solves)."""
        self.generated.append((split, level, seed, count))
        self.splits.setdefault(split, tasks(split, count, start=100 * level))
        return len(self.splits[split])

    async def create(self, env: str, split: str, task_id: str) -> SessionView:
        assert env == "alfworld"
        self.creates += 1
        if self.crash_after is not None and self.creates > self.crash_after:
            raise RuntimeError("simulated crash")
        task = next(t for t in self.splits[split] if t.task_id == task_id)
        self.opened[task_id] = self.opened.get(task_id, 0) + 1
        sid = f"s{next(self.ids)}"
        self.sessions[sid] = task
        return SessionView(
            sid, task, f"You are in a room. Your task is to: {task_id}", self.admissible(task)
        )

    async def step(self, session_id: str, action: str) -> EnvAnswer:
        await asyncio.sleep(self.step_delay)
        if self.lose_sessions:
            self.lose_sessions -= 1
            del self.sessions[session_id]
            raise EpisodeInterrupted(f"env step: NOT_FOUND: session {session_id} not found")
        task = self.sessions[session_id]
        if self.opened[task.task_id] in self.refuse.get(task.task_id, ()):
            raise RolloutFailed("policy: INVALID_ARGUMENT: the prompt does not fit the context")
        won = action == self.key(task)
        obs = "You open the box. You won!" if won else "Nothing happens."
        return EnvAnswer(obs, float(won), won, won, self.admissible(task))

    async def close(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)  # gone already if the env lost it


class FakePolicy:
    """Base model: says an invalid action. With an adapter: solves tasks with an even number.

    Grounding (off unless `grounds`, the client's setting, or a request asks for it; always on
    with `service_grounds`, a policy service configured to ground every caller) replaces an
    invalid action by the admissible one the model "scores highest": with an adapter FakeEnv's
    key (a grounded step wins), the base model a decoy (`go to desk 1`)."""

    def __init__(self):
        self.loaded: dict[str, str] = {}
        self.ended: list[str] = []
        self.grounds = False
        self.service_grounds = False

    async def act(
        self,
        episode_id,
        task,
        initial_observation,
        history,
        admissible,
        *,
        temperature,
        seed,
        adapter,
        ground_actions=None,
    ):
        answer = await self._act(task, admissible, temperature, seed, adapter)
        ground = self.service_grounds or (
            self.grounds if ground_actions is None else ground_actions
        )
        if ground and admissible and answer.action not in admissible:
            return PolicyAnswer(
                answer.thought,
                admissible[1] if adapter not in ("", "base") else admissible[-1],
                answer.raw_text,
                answer.usage,
                StepSource.GROUNDED,
                replaced_action=answer.action,
            )
        return answer

    async def _act(self, task, admissible, temperature, seed, adapter):
        n = int(task.task_id.split("-T")[1].split("/")[0])
        if adapter not in ("", "base") and n % 2 == 0:
            assert adapter in self.loaded, f"adapter {adapter} used before it was loaded"
            return PolicyAnswer(
                "I should open the box.", f"open box {n}", "raw", TokenUsage(10, 5, 3)
            )
        if temperature > 0:  # no-ActRe exploration: a random admissible action
            import random

            return PolicyAnswer(
                "maybe",
                random.Random(seed).choice(list(admissible)),
                "raw",
                TokenUsage(),
                StepSource.TEMPERATURE,
            )
        return PolicyAnswer("hmm", "dance wildly", "raw", TokenUsage(10, 0, 3))

    async def end_episode(self, episode_id):
        self.ended.append(episode_id)

    async def load_adapter(self, name, uri):
        assert (Path(uri) / "manifest.json").is_file()
        self.loaded[name] = uri


class FakeActRe:
    def __init__(self):
        self.calls = 0
        self.seen = []  # (episode_id, actions of the history, action) per call
        self.fail_after: int | None = None  # raise once this many calls were answered
        self.ended = []

    async def explain(self, episode_id, task, initial_observation, history, action):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("simulated ActRe crash")
        self.calls += 1
        self.seen.append((episode_id, [s.action for s in history], action))
        return f"{action} may help with the task", TokenUsage(20, 0, 8)

    async def end_episode(self, episode_id):
        self.ended.append(episode_id)


class FakeTrainer:
    def __init__(self):
        self.requests = []
        self.fail = False

    async def train(self, request, on_progress):
        if self.fail:
            raise RuntimeError("simulated trainer crash")
        self.requests.append(request)
        lines = Path(request.dataset_uri).read_text().splitlines()
        out = Path(request.output_uri)
        out.mkdir(parents=True, exist_ok=True)
        on_progress(1, 1, "trained")
        write_manifest(out, {"examples": len(lines), "round": request.round})
        weights = [json.loads(line)["weight"] for line in lines]
        return TrainResult("run-1", str(out), {"examples": len(lines), "weight_sum": sum(weights)})


class FakeCritic:
    async def score(self, traj):
        return (9.0 if traj.won else 2.0), "ok"


def fake_services(env: FakeEnv, critic: bool = True) -> Services:
    """Every service the round loop drives, as the fakes above (the env also lists tasks, the
    policy also loads adapters); tests reach a fake through the returned Services."""
    policy = FakePolicy()
    return Services(
        env=env,
        tasks=env,
        policy=policy,
        policy_adapters=policy,
        actre=FakeActRe(),
        actre_adapters=None,
        trainer=FakeTrainer(),
        critic=FakeCritic() if critic else None,
    )
