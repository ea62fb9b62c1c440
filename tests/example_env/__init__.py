"""An example environment plugin, the one docs/environments.md walks through: walk a number line.

The agent stands at 0 and must reach a target (e.g. 2) with `step left` / `step right`. It is the
smallest environment that exercises every part of the plug: tasks in splits, admissible actions,
a win, a 1-shot exemplar, ActRe's worked answers and controller defaults. Tests register it
(`ENVIRONMENTS["numberline"] = SPEC`); a real plugin lives in `libs/a3t/a3t/envs/<name>/` with
that line in `a3t.envs.ENVIRONMENTS`.
"""

from a3t.envs.base import ActReExample, EnvDefaults, EnvPrompts, EnvSpec, EpisodeExample

PROMPTS = EnvPrompts(
    policy_system=(
        "You walk on a number line. Each turn, write one line `think: <reasoning>` and then one "
        "line with exactly one action: step left, step right or look."
    ),
    examples={
        "": EpisodeExample(
            "You stand at 0 on a number line.\nYour task is to: reach 2.",
            (
                ("2 is right of 0, so I step right.", "step right", "You are at 1."),
                ("1 is still left of 2.", "step right", "You are at 2. You reached the target."),
            ),
        )
    },
    actre_system="You explain an agent's moves on a number line in one short sentence.",
    actre_examples=(
        ActReExample(
            "You stand at 0 on a number line.\nYour task is to: reach -1.",
            "step left",
            "-1 is left of 0.",
        ),
    ),
    critic_rubric="default",
    observation_starts=("you are at", "you stand at"),
)

SPEC = EnvSpec(
    name="numberline",
    engine="tests.example_env.engine:NumberLine",
    prompts=PROMPTS,
    defaults=EnvDefaults(max_steps=8, explore_attempts=6, explore_skip_verbs=("look",)),
    max_action_chars=32,
)
