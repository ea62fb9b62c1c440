"""Prompts: the policy's chat, the ActRe prompt, the critic rubric, built for a task's env.

The policy service and the trainer both build chats from here (through a3t.inference.chat), so
training text and inference text are identical. What is particular to an environment (system
prompts, 1-shot exemplars, ActRe's worked answers, its rubric) lives in its plugin,
`a3t.envs.<name>` (EnvPrompts); this module only assembles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from a3t.envs import env_spec
from a3t.inference.base import ChatMessage
from a3t.inference.chat import react_messages
from a3t.trajectory import Step, Task, Trajectory


def policy_system(env: str) -> str:
    return env_spec(env).prompts.policy_system


def exemplar(env: str, task_type: str) -> list[ChatMessage]:
    """The env's 1-shot exemplar for a task type as chat turns; [] when it has none."""
    return env_spec(env).prompts.exemplar_messages(task_type)


def policy_messages(
    task: Task, initial_observation: str, history: Sequence[Step], *, with_exemplar: bool = True
) -> list[ChatMessage]:
    """The policy's chat for its next step. The base model gets the 1-shot exemplar; a policy
    with a trained adapter does not, and the trainer renders trajectories without it
    (`trajectory_policy_messages(..., with_exemplar=False)`), so an adapter is trained on exactly
    the text it will act on."""
    shot = exemplar(task.env, task.task_type) if with_exemplar else []
    return react_messages(policy_system(task.env), shot, task, initial_observation, history)


def trajectory_policy_messages(
    traj: Trajectory, *, with_exemplar: bool = True
) -> list[ChatMessage]:
    return policy_messages(
        traj.task, traj.initial_observation, traj.steps, with_exemplar=with_exemplar
    )


# --- ActRe: act first, then reason. The action is given; the model writes why, before it sees
# what the action does.

_ACTRE_QUESTION = "Why is this a sensible next step?"


def _transcript(task: Task, initial_observation: str, history: Sequence[Step]) -> str:
    lines = [initial_observation]
    for step in history:
        lines.append(f"> {step.action}")
        lines.append(step.observation)
    return "\n".join(lines)


def _actre_question(transcript: str, action: str) -> str:
    return f"{transcript}\n\nNext action: {action}\n{_ACTRE_QUESTION}"


def actre_messages(
    task: Task, initial_observation: str, history: Sequence[Step], action: str
) -> list[ChatMessage]:
    """The env's ActRe system prompt and worked answers, then the question: the transcript (the
    last 12 steps: actions and observations, never earlier thoughts) and the chosen action, not
    its outcome."""
    prompts = env_spec(task.env).prompts
    messages = [ChatMessage("system", prompts.actre_system)]
    for example in prompts.actre_examples:
        messages.append(ChatMessage("user", _actre_question(example.transcript, example.action)))
        messages.append(ChatMessage("assistant", example.rationale))
    transcript = _transcript(task, initial_observation, history[-12:])
    messages.append(ChatMessage("user", _actre_question(transcript, action)))
    return messages


def clean_rationale(text: str) -> str:
    """The first sentence-ish line of an ActRe answer, without a `think:` prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.lower().startswith("think:"):
        first = first[len("think:") :].strip()
    return first


# --- critic

RUBRICS = {
    "default": (
        "Judge whether the agent accomplished the task. 10 = fully and efficiently done, 5 = "
        "partly done or with avoidable mistakes, 0 = not done or harmful."
    ),
    "tool_use": (
        "Judge whether the agent called the right API with the right arguments and answered the "
        "user correctly from its result. 10 = correct call and answer, 5 = right API with a wrong "
        "argument, 0 = wrong or no call."
    ),
}

CRITIC_FORMAT = (
    'Answer with only a JSON object: {"score": <number 0-10>, "verdict": "success" | "partial" | '
    '"failure", "reasons": ["...", "..."]}'
)


CRITIC_QUESTION = "Did the agent accomplish the task? Answer with one word: yes or no."


def critic_messages(
    traj: Trajectory, rubric: str, rubrics: Mapping[str, str] = RUBRICS, *, question: bool = False
) -> list[ChatMessage]:
    """The critic's chat for one trajectory; `rubrics` maps rubric names to their text (the
    critic service passes the built-in ones merged with its configured ones). `question`: end
    with the yes/no question (probability scoring) instead of the JSON answer format."""
    ask = CRITIC_QUESTION if question else CRITIC_FORMAT
    user = (
        f"Task: {traj.task.instruction or traj.task.task_id}\n\nTranscript:\n"
        f"{_transcript(traj.task, traj.initial_observation, traj.steps)}\n\n"
        f"Rubric: {rubrics[rubric]}\n{ask}"
    )
    return [
        ChatMessage("system", "You are a strict evaluator of agent trajectories."),
        ChatMessage("user", user),
    ]
