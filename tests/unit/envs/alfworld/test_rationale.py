"""ALFWorld's rationale check (a3t.envs.alfworld.rationale), on real level-5 text: the
observations and ActRe rationales below are copied from a learning-check store
(var/bench/learning/level5/a3t.sqlite, SmolLM2-135M as ActRe, 2026-12-02)."""

from __future__ import annotations

import pytest

from a3t.envs import env_spec
from a3t.envs.alfworld.rationale import check_rationale
from a3t.trajectory import Step, StepSource

ROOM = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
    "around you, you see a diningtable 1, a garbagecan 1, and a sidetable 1.\n\nYour task is "
    "to: put a newspaper in sidetable."
)
GARBAGECAN = (
    "You arrive at garbagecan 1. On the garbagecan 1, you see a newspaper 2, and a newspaper 1."
)
# (action, observation) of the episode, as the env answered.
PLAYED = [
    ("go to garbagecan 1", GARBAGECAN),
    ("go to sidetable 1", "You arrive at sidetable 1. On the sidetable 1, you see nothing."),
    ("go to garbagecan 1", GARBAGECAN),
    ("take newspaper 2 from garbagecan 1", "You pick up the newspaper 2 from the garbagecan 1."),
    ("go to sidetable 1", "You arrive at sidetable 1. On the sidetable 1, you see nothing."),
    ("move newspaper 2 to sidetable 1", "You move the newspaper 2 to the sidetable 1."),
]


def check(at: int, thought: str, action: str = "") -> str:
    """The check of `thought` for step `at` of PLAYED (or `action` there instead)."""
    history = [Step(a, observation=o, source=StepSource.SAMPLED) for a, o in PLAYED[:at]]
    step = Step(action or PLAYED[at][0], thought=thought, source=StepSource.SAMPLED)
    return check_rationale(ROOM, history, step)


@pytest.mark.parametrize(
    ("at", "thought", "problem"),
    [
        # (a) names the action's object or target, without its number
        (3, "I take the newspaper 2 from the garbagecan 1.", ""),
        (3, "The newspaper is what I need.", ""),
        (3, "Newspapers belong on the sidetable.", ""),  # a plural, any case
        (1, "You are in the middle of a room.", "names no sidetable"),
        (5, "You are in the middle of a room.", "names neither newspaper nor sidetable"),
        (0, "", "names no garbagecan"),
        # (b) holding: followed from the env's answers
        (4, "I hold the newspaper, so I go to the sidetable 1.", ""),
        (
            2,
            "I hold the newspaper, so I go to the garbagecan 1.",
            "claims to hold a newspaper; holds nothing",
        ),
        (
            2,
            "I'm carrying newspaper 1 to the garbagecan 1.",
            "claims to hold a newspaper; holds nothing",
        ),
        (4, "I have a plan: go to sidetable 1.", ""),  # "plan" is no thing of this world
        # (b) places: the last listing there, updated by picks and moves since
        (1, "I go to sidetable 1, and I take a newspaper 2 from sidetable 1.", ""),  # unseen
        (
            2,
            "I go to the garbagecan 1, and I see nothing.",
            "claims nothing in garbagecan 1; seen there: newspaper 1, newspaper 2",
        ),
        (2, "I go to garbagecan 1. On the garbagecan 1, I see a newspaper 1, so I go there.", ""),
        (
            4,
            "On the sidetable 1, I see a newspaper 2.",
            "claims newspaper 2 in sidetable 1; seen there: nothing",
        ),
        (
            4,
            "The newspaper 2 is in the garbagecan 1, so I go to the sidetable 1.",
            "claims newspaper 2 in garbagecan 1; seen there: newspaper 1",
        ),  # picked up since
        (4, "The newspaper is in the garbagecan 1, so I go to the sidetable 1.", ""),
        # (b) one thing called another
        (1, "I examine the sidetable 1, and it is a newspaper.", "calls a sidetable a newspaper"),
        (0, "I examine the garbagecan 1, and it is a newspaper.", ""),  # none seen yet
        (0, "I look at the garbagecan 1, and it is a phone.", ""),  # no phone in this world
    ],
)
def test_check_on_a_real_level5_episode(at: int, thought: str, problem: str) -> None:
    assert check(at, thought) == problem


def test_a_move_puts_the_thing_in_the_place_and_empties_the_hand() -> None:
    back = "go to garbagecan 1"
    assert check(6, "I hold the newspaper 2 and go to garbagecan 1.", back) == (
        "claims to hold a newspaper; holds nothing"
    )
    assert check(6, "On the sidetable 1, I see a newspaper 2, so I go to garbagecan 1.", back) == ""


def test_inventory_answers_and_open_receptacles_are_read() -> None:
    room = "You are in the middle of a room. Looking quickly around you, you see a fridge 1."
    history = [
        Step("go to fridge 1", observation="You arrive at fridge 1. The fridge 1 is closed."),
        Step(
            "open fridge 1",
            observation="You open the fridge 1. The fridge 1 is open. In it, you see a egg 2.",
        ),
        Step("inventory", observation="You are carrying: a mug 1."),
    ]
    step = Step("take egg 2 from fridge 1", thought="", source=StepSource.SAMPLED)

    def problem(thought: str) -> str:
        return check_rationale(room, history, Step(step.action, thought=thought))

    assert problem("I hold the mug 1, and in the fridge 1, I see a egg 2.") == ""
    assert problem("I hold the egg, so I close the fridge 1.") == (
        "claims to hold a egg; holds mug 1"
    )
    assert problem("In the fridge 1, I see nothing but an egg.") == (
        "claims nothing in fridge 1; seen there: egg 2"
    )
    empty = [*history, Step("inventory", observation="You are not carrying anything.")]
    assert check_rationale(
        room, empty, Step(step.action, thought="I hold the mug 1, so I take the egg.")
    ) == ("claims to hold a mug; holds nothing")


def test_the_paper_examples_from_a_make_run_export() -> None:
    room = "You are in the middle of a room. Looking quickly around you, you see a shelf 1."
    history = [
        Step(
            "go to shelf 1",
            observation="You arrive at shelf 1. On the shelf 1, you see a box 1, and a "
            "baseballbat 1.",
        )
    ]
    box = Step("take box 1 from shelf 1", thought="I examine the box 1, and it is a mug.")
    assert check_rationale(room, history, box) == ""  # no mug here: not judged
    mug_room = room.replace("a shelf 1", "a shelf 1, and a mug 3")
    assert check_rationale(mug_room, history, box) == "calls a box a mug"
    bat = Step("take baseballbat 1 from shelf 1", thought="I hold the baseballbat, so I take it.")
    assert check_rationale(room, history, bat) == ("claims to hold a baseballbat; holds nothing")


def test_an_action_without_entities_needs_no_name() -> None:
    assert check_rationale(ROOM, [], Step("look", thought="I look around.")) == ""


def test_alfworld_declares_it_and_other_envs_do_not() -> None:
    assert env_spec("alfworld").rationale_check is check_rationale
    assert env_spec("webshop").rationale_check is None
    assert env_spec("apibank").rationale_check is None
