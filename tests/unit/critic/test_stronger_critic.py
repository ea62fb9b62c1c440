"""The critic loop's plumbing with a stronger critic behind the openai engine (issue 12: where
SmolLM2 has no signal, a bigger model served by vLLM/TGI is the way to a useful critic). A fake
OpenAI-compatible server answers as a critic that can tell success from failure would; the real
openai engine, critic core and controller selection turn its answers into the kept set."""

from __future__ import annotations

import json

from a3t.inference.base import GenerationParams
from a3t.inference.openai import OpenAIEngine, OpenAIEngineConfig
from a3t.inference.served import ServedModel
from a3t.trajectory import Step, Task, Trajectory
from a3t_controller.config import ExperimentConfig
from a3t_controller.select import select
from a3t_controller.store import CriticAgreement, StoredTrajectory
from a3t_critic.config import CriticSettings
from a3t_critic.core import CriticCore
from tests.unit.inference.fake_servers import FakeOpenAI


def candidate(i: int, won: bool) -> StoredTrajectory:
    task = Task("apibank", f"dialogue-{i // 2}/0", "level-1-train", "ToolSearcher", "Book it")
    steps = (Step("[BookHotel(name='A')]", "Passed." if won else "Error: wrong date"),)
    traj = Trajectory(task, "API: BookHotel(...)", steps, won=won, reward=float(won))
    return StoredTrajectory(
        f"t{i}", 0, "explore", task.task_id, "ToolSearcher", i % 2, won, float(won), traj
    )


async def test_a_critic_that_can_tell_is_followed_by_the_selector() -> None:
    candidates = [
        candidate(i, won) for i, won in enumerate([True, False, False, True, False, True])
    ]
    with FakeOpenAI(model="judge") as server:
        for c in candidates:  # what a critic with a signal answers, in scoring order
            server.replies.append(
                json.dumps(
                    {
                        "score": 9 if c.won else 2,
                        "verdict": "success" if c.won else "failure",
                        "reasons": ["the call matches the request" if c.won else "wrong date"],
                    }
                )
            )
        engine = OpenAIEngine(OpenAIEngineConfig(server.url, "judge", 5.0))
        await engine.start()
        model = ServedModel("critic")
        model.attach(engine)
        settings = CriticSettings()
        core = CriticCore(model, settings, settings.rubrics())
        scores = {}
        for c in candidates:
            result = await core.score(c.trajectory, GenerationParams(max_new_tokens=64))
            scores[c.trajectory_id] = result.verdict.score if result.verdict else None
        # The critic's requests went to the server, one chat completion each.
        assert len(server.posts("/v1/chat/completions")) == len(candidates)
    config = ExperimentConfig.from_dict(
        {"selector": "critic", "critic_threshold": 7, "critic_top_fraction": 1.0}
    )
    decisions, stats = select(candidates, config, scores, 0)
    kept = {d.trajectory_id for d in decisions if d.kept and d.selector == "critic"}
    assert kept == {c.trajectory_id for c in candidates if c.won}
    assert stats.critic == CriticAgreement(precision=1.0, recall=1.0, auc=1.0)
