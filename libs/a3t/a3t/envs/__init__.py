"""Environment plugins: one folder per environment, one line each in `ENVIRONMENTS`.

    from a3t.envs import env_spec
    spec = env_spec("alfworld")        # prompts, controller defaults, limits
    environment = spec.environment(root)  # the engine (env service only)

How to add one: docs/environments.md. Importing this module imports every plugin's spec (light:
prompts and defaults), never an engine.
"""

from __future__ import annotations

from a3t.envs import alfworld, apibank, webshop
from a3t.envs.base import EnvSpec
from a3t.errors import InvalidArgument, quote

ENVIRONMENTS: dict[str, EnvSpec] = {
    "alfworld": alfworld.SPEC,
    "apibank": apibank.SPEC,
    "webshop": webshop.SPEC,
}


def env_spec(name: str) -> EnvSpec:
    """The plugin registered as `name`; InvalidArgument naming the registered ones otherwise."""
    spec = ENVIRONMENTS.get(name)
    if spec is None:
        raise InvalidArgument(
            f"env {quote(name, 64)} is not a registered environment; registered: "
            f"{', '.join(sorted(ENVIRONMENTS))} (docs/environments.md says how to add one)"
        )
    return spec
