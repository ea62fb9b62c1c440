"""Settings of the critic service (defaults < YAML < A3T_CRITIC_<FIELD> < flags; a3t.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from a3t.inference.service import ModelServiceSettings
from a3t.prompts import RUBRICS

SCORINGS = ("text", "probability")


@dataclass(frozen=True)
class CriticSettings(ModelServiceSettings):
    """a3t critic service: scores finished trajectories 0-10 against a rubric."""

    port: int = 50054
    metrics_port: int = 9104
    # Tokens per answer when a request leaves max_new_tokens 0: a JSON object with reasons.
    max_new_tokens: int = 256
    # Rubric used when a request names none: one of a3t.prompts.RUBRICS or of rubrics_file;
    # "" = the trajectory's env's own rubric (a3t.envs.<env>.SPEC.prompts.critic_rubric).
    rubric: str = ""
    # YAML mapping of rubric name -> rubric text, added to (or replacing) the built-in ones.
    rubrics_file: Path | None = None
    # How a score is read: "text" = the model writes a JSON verdict; "probability" = the model's
    # probabilities of answering "yes" vs "no" to "did the agent accomplish the task?" (score =
    # 10 x P(yes)), which can carry signal where a small model's text does not. Needs an engine
    # that scores continuations (local or tgi).
    scoring: str = "text"

    def rubrics(self) -> dict[str, str]:
        """The built-in rubrics merged with rubrics_file's; ValueError saying what is wrong."""
        merged = dict(RUBRICS)
        if self.rubrics_file is None:
            return merged
        try:
            loaded = yaml.safe_load(self.rubrics_file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"rubrics_file {self.rubrics_file}: {exc}") from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in loaded.items()
        ):
            raise ValueError(
                f"rubrics_file {self.rubrics_file} must map rubric names to non-empty texts"
            )
        merged.update(loaded)
        return merged

    def problems(self) -> list[str]:
        found = super().problems()
        try:
            rubrics = self.rubrics()
        except ValueError as exc:
            found.append(str(exc))
        else:
            if self.rubric and self.rubric not in rubrics:
                found.append(f"rubric must be one of {sorted(rubrics)}, got {self.rubric!r}")
        if self.scoring not in SCORINGS:
            found.append(f"scoring must be one of {list(SCORINGS)}, got {self.scoring[:40]!r}")
        elif self.scoring == "probability" and self.engine == "openai":
            found.append(
                "scoring 'probability' needs an engine that scores continuations (local or tgi); "
                "the openai engine cannot: use scoring 'text' with it"
            )
        return found
