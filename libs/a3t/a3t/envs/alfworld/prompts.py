"""ALFWorld's prompting: the policy's system prompt and 1-shot exemplars, ActRe's worked answers.

The exemplars are our own short episodes, written in the exact wording the engine uses ("You
arrive at ...", "move X to Y"), one per task type; each step is one assistant turn
`think: <thought>` + `<action>` (a3t.inference.chat).
"""

from __future__ import annotations

from a3t.envs.base import ActReExample, EnvPrompts, EpisodeExample

POLICY_SYSTEM = (
    "You are an agent in a household. Each turn, write one line `think: <reasoning>` and then "
    "one line with exactly one action. Actions: go to X, open X, close X, take X from Y, "
    "move X to Y, heat X with Y, cool X with Y, clean X with Y, use X, examine X, look, "
    "inventory."
)

_ROOM = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
    "around you, you see "
)

# (room contents, task sentence, [(thought, action, observation), ...]) per task type.
_EXEMPLARS: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    "pick_and_place_simple": (
        "a bed 1, a desk 1, a drawer 2, a drawer 1, a shelf 1, and a sidetable 1.",
        "put some pen on desk.",
        [
            (
                "I need a pen. Pens are often on a sidetable or a shelf. I check the sidetable first.",
                "go to sidetable 1",
                "You arrive at sidetable 1. On the sidetable 1, you see a keychain 1, and a pen 2.",
            ),
            (
                "There is pen 2. I take it.",
                "take pen 2 from sidetable 1",
                "You pick up the pen 2 from the sidetable 1.",
            ),
            (
                "Now I bring the pen to the desk.",
                "go to desk 1",
                "You arrive at desk 1. On the desk 1, you see a laptop 1.",
            ),
            (
                "I put the pen on the desk.",
                "move pen 2 to desk 1",
                "You move the pen 2 to the desk 1.",
            ),
        ],
    ),
    "look_at_obj_in_light": (
        "a armchair 1, a desk 1, a drawer 1, a shelf 2, a shelf 1, and a sidetable 1.",
        "look at book under the desklamp.",
        [
            (
                "I need a book and a desklamp. A book may be on a shelf.",
                "go to shelf 1",
                "You arrive at shelf 1. On the shelf 1, you see a book 1, and a vase 2.",
            ),
            (
                "I take book 1.",
                "take book 1 from shelf 1",
                "You pick up the book 1 from the shelf 1.",
            ),
            (
                "A desklamp is usually on a desk or a sidetable.",
                "go to sidetable 1",
                "You arrive at sidetable 1. On the sidetable 1, you see a desklamp 1.",
            ),
            (
                "I turn on the desklamp to look at the book.",
                "use desklamp 1",
                "You turn on the desklamp 1.",
            ),
        ],
    ),
    "pick_clean_then_place_in_recep": (
        "a cabinet 1, a countertop 1, a drawer 1, a fridge 1, a shelf 1, and a sinkbasin 1.",
        "put a clean plate in shelf.",
        [
            (
                "I need a plate. Plates are often on a countertop.",
                "go to countertop 1",
                "You arrive at countertop 1. On the countertop 1, you see a plate 1, and a spoon 3.",
            ),
            (
                "I take plate 1.",
                "take plate 1 from countertop 1",
                "You pick up the plate 1 from the countertop 1.",
            ),
            (
                "I clean it at the sinkbasin.",
                "go to sinkbasin 1",
                "You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing.",
            ),
            (
                "Now I clean the plate.",
                "clean plate 1 with sinkbasin 1",
                "You clean the plate 1 using the sinkbasin 1.",
            ),
            (
                "The plate is clean. I put it on the shelf.",
                "go to shelf 1",
                "You arrive at shelf 1. On the shelf 1, you see nothing.",
            ),
            (
                "I place the plate.",
                "move plate 1 to shelf 1",
                "You move the plate 1 to the shelf 1.",
            ),
        ],
    ),
    "pick_heat_then_place_in_recep": (
        "a cabinet 1, a countertop 1, a diningtable 1, a fridge 1, a microwave 1, and a "
        "stoveburner 1.",
        "heat some egg and put it in diningtable.",
        [
            (
                "I need an egg. Eggs are often in the fridge.",
                "go to fridge 1",
                "You arrive at fridge 1. The fridge 1 is closed.",
            ),
            (
                "The fridge is closed; I open it.",
                "open fridge 1",
                "You open the fridge 1. The fridge 1 is open. In it, you see a egg 2, and a lettuce 1.",
            ),
            (
                "I take egg 2.",
                "take egg 2 from fridge 1",
                "You pick up the egg 2 from the fridge 1.",
            ),
            (
                "I heat the egg with the microwave.",
                "go to microwave 1",
                "You arrive at microwave 1. The microwave 1 is closed.",
            ),
            (
                "Now I heat it.",
                "heat egg 2 with microwave 1",
                "You heat the egg 2 using the microwave 1.",
            ),
            (
                "The egg is hot. I bring it to the diningtable.",
                "go to diningtable 1",
                "You arrive at diningtable 1. On the diningtable 1, you see a fork 1.",
            ),
            (
                "I place the egg.",
                "move egg 2 to diningtable 1",
                "You move the egg 2 to the diningtable 1.",
            ),
        ],
    ),
    "pick_cool_then_place_in_recep": (
        "a cabinet 1, a countertop 1, a fridge 1, a garbagecan 1, and a microwave 1.",
        "cool some tomato and put it in microwave.",
        [
            (
                "I need a tomato. It may be on the countertop.",
                "go to countertop 1",
                "You arrive at countertop 1. On the countertop 1, you see a knife 1, and a tomato 1.",
            ),
            (
                "I take tomato 1.",
                "take tomato 1 from countertop 1",
                "You pick up the tomato 1 from the countertop 1.",
            ),
            (
                "I cool it with the fridge.",
                "go to fridge 1",
                "You arrive at fridge 1. The fridge 1 is closed.",
            ),
            (
                "Now I cool the tomato.",
                "cool tomato 1 with fridge 1",
                "You cool the tomato 1 using the fridge 1.",
            ),
            (
                "The tomato is cool. I go to the microwave.",
                "go to microwave 1",
                "You arrive at microwave 1. The microwave 1 is closed.",
            ),
            (
                "The microwave is closed; I open it.",
                "open microwave 1",
                "You open the microwave 1. The microwave 1 is open. In it, you see nothing.",
            ),
            (
                "I put the tomato in.",
                "move tomato 1 to microwave 1",
                "You move the tomato 1 to the microwave 1.",
            ),
        ],
    ),
    "pick_two_obj_and_place": (
        "a armchair 1, a coffeetable 1, a drawer 1, a sofa 1, and a sidetable 1.",
        "put two remotecontrol in armchair.",
        [
            (
                "I need two remotecontrols. I check the coffeetable.",
                "go to coffeetable 1",
                "You arrive at coffeetable 1. On the coffeetable 1, you see a remotecontrol 2, and a "
                "remotecontrol 1.",
            ),
            (
                "I take the first one.",
                "take remotecontrol 1 from coffeetable 1",
                "You pick up the remotecontrol 1 from the coffeetable 1.",
            ),
            (
                "I bring it to the armchair.",
                "go to armchair 1",
                "You arrive at armchair 1. On the armchair 1, you see nothing.",
            ),
            (
                "I put it down.",
                "move remotecontrol 1 to armchair 1",
                "You move the remotecontrol 1 to the armchair 1.",
            ),
            (
                "Now the second one from the coffeetable.",
                "go to coffeetable 1",
                "You arrive at coffeetable 1. On the coffeetable 1, you see a remotecontrol 2.",
            ),
            (
                "I take remotecontrol 2.",
                "take remotecontrol 2 from coffeetable 1",
                "You pick up the remotecontrol 2 from the coffeetable 1.",
            ),
            (
                "Back to the armchair.",
                "go to armchair 1",
                "You arrive at armchair 1. On the armchair 1, you see a remotecontrol 1.",
            ),
            (
                "I put the second one down.",
                "move remotecontrol 2 to armchair 1",
                "You move the remotecontrol 2 to the armchair 1.",
            ),
        ],
    ),
}


ACTRE_SYSTEM = (
    "You explain an agent's decisions in a household. You are shown the task, what happened so "
    "far, and the action the agent takes next. Write one short sentence saying why this action "
    "is a sensible next step toward the task. Do not describe its result."
)

# Worked answers in the engine's wording, as chat turns before the real question. Without them
# SmolLM2 answers every question with the same empty template ("This action is a sensible next
# step because it allows you to ...") and runs past the sentence; the answers it imitates become
# the thoughts the policy is trained to write, so they are short and name the task's objects.
_ACTRE_EXEMPLARS: tuple[tuple[str, str, str], ...] = (
    (
        "You are facing the sidetable 1. Next to it, you see nothing.\n\nYour task is to: put "
        "some pen on desk.\n> examine sidetable 1\nOn the sidetable 1, you see a keychain 1, "
        "and a pen 2.",
        "take pen 2 from sidetable 1",
        "The task needs a pen, and pen 2 is on this sidetable.",
    ),
    (
        "You are facing the sidetable 1. Next to it, you see nothing.\n\nYour task is to: put "
        "some pen on desk.\n> take pen 2 from sidetable 1\nYou pick up the pen 2 from the "
        "sidetable 1.",
        "go to desk 1",
        "I hold the pen, and it has to end up on the desk.",
    ),
    (
        "You are facing the shelf 1. Next to it, you see nothing.\n\nYour task is to: look at "
        "book under the desklamp.\n> take book 1 from shelf 1\nYou pick up the book 1 from "
        "the shelf 1.",
        "use desklamp 1",
        "I hold the book, so turning on the desklamp lets me look at it under the light.",
    ),
    (
        "You are facing the cabinet 1. Next to it, you see nothing.\n\nYour task is to: put a "
        "mug in coffeemachine.",
        "look",
        "I do not see a mug yet, so I look around for one.",
    ),
)


PROMPTS = EnvPrompts(
    policy_system=POLICY_SYSTEM,
    examples={
        task_type: EpisodeExample(f"{_ROOM}{room}\n\nYour task is to: {goal}", tuple(steps))
        for task_type, (room, goal, steps) in _EXEMPLARS.items()
    },
    actre_system=ACTRE_SYSTEM,
    actre_examples=tuple(ActReExample(*example) for example in _ACTRE_EXEMPLARS),
    critic_rubric="default",
    # The engine's answers begin like this; a small model runs on and writes them itself.
    observation_starts=(
        "observation:",
        "obs:",
        "you arrive",
        "you pick up",
        "you open",
        "you close",
        "you move",
        "you put",
        "you heat",
        "you cool",
        "you clean",
        "you turn",
        "you see",
        "you are in",
        "nothing happens",
        "-= welcome",
        "your task is to",
    ),
)
