"""Settings of the policy service (defaults < YAML < A3T_POLICY_<FIELD> < flags; a3t.settings)."""

from __future__ import annotations

from dataclasses import dataclass

from a3t.inference.service import ModelServiceSettings


@dataclass(frozen=True)
class PolicySettings(ModelServiceSettings):
    """a3t policy service: the ReAct agent (task + history -> thought and action)."""

    port: int = 50052
    metrics_port: int = 9102
    # Tokens per step when a request leaves max_new_tokens 0: a thought line and an action.
    max_new_tokens: int = 96
    # Action grounding (off by default, as in the paper): a generated action that is not
    # admissible is replaced by the admissible action the model scores highest. A request turns
    # it on for itself with ground_actions=true. Needs the local or tgi engine.
    ground_actions: bool = False
    # Longest action returned; garbage longer than this is cut. Keep it <= the env's
    # max_action_chars (256 by default), which refuses longer actions.
    max_action_chars: int = 256

    def problems(self) -> list[str]:
        found = super().problems()
        if self.max_action_chars < 16:
            found.append(f"max_action_chars must be >= 16, got {self.max_action_chars}")
        if self.ground_actions and self.engine == "openai":
            found.append(
                "ground_actions needs an engine that scores continuations (local or tgi); the "
                "openai engine cannot"
            )
        return found
