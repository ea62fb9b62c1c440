"""API-Bank level-1 (Li et al. 2023): write the API request a dialogue calls for next.

Our own engine over API-Bank's release (its level-1 items and databases, read from the env's
data root at run time, never shipped: release.py documents the layout): our own implementations
of the 49 APIs the items call, deterministic offline stand-ins where the original needs the
network, a clock or randomness (apis.py), requests read with `ast` (calls.py), and API-Bank's
level-1 check: the request and the expected one both run, their results are compared
(engine.py). The engine is imported by the env service only; the prompting (`prompts.py`) and
defaults here are what every other service reads.
"""

from a3t.envs.apibank.prompts import PROMPTS
from a3t.envs.base import EnvDefaults, EnvSpec

SPEC = EnvSpec(
    name="apibank",
    engine="a3t.envs.apibank.engine:ApiBankEnvironment",
    prompts=PROMPTS,
    defaults=EnvDefaults(
        max_steps=3,  # one request ends an episode; two more tries after refused requests
        explore_attempts=8,  # K sampled attempts per item (the critic loop, issue 12)
        stop_at_first_success=False,
        # Requests cannot be enumerated: exploration samples the policy at a temperature, at
        # every step, so the K attempts differ (the critic paper's K sampled attempts).
        explore_with_actre=False,
        explore_probability=(1.0,),
    ),
    max_action_chars=2048,  # requests carry lists (attendees, health data) and long texts
)
