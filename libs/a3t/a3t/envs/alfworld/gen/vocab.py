"""What generated games are made of, taken from the installed alfworld package.

The PDDL domain, the grammar, the goal formulas, the task-description templates, the object and
receptacle classes, which receptacle can hold which object (`canContain`) and which objects can be
heated, cooled, cleaned or toggled all come from alfworld 0.4.2's own files, so a generated game
speaks exactly the language of the real games. Only the furnishing of each room type (which
receptacles and objects belong in a kitchen) is ours, in the two dicts below.

alfworld's `__init__` creates $ALFWORLD_DATA as a side effect of any import (NOTES.md), and
generating games must not touch the file system outside `out_root`: so the package directory is
located with `find_spec` (which does not run the package) and the two vocabulary modules, which
import nothing of alfworld, are executed from their files.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from a3t.errors import FailedPrecondition

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

# The appliance each state-change task needs, and the object property it requires.
APPLIANCE = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}
LAMP = "DeskLamp"
# Receptacles a desk lamp stands on (it must be on an open surface to be switched on).
LAMP_STANDS = ("Desk", "Dresser", "SideTable", "Shelf")

# fmt: off
# Room furnishing (ours): receptacle classes and movable object classes per ALFRED room type.
# Every name is checked against alfworld's class lists when the vocabulary loads.
ROOM_RECEPTACLES = {
    "Kitchen": (
        "Cabinet", "CoffeeMachine", "CounterTop", "DiningTable", "Drawer", "Fridge",
        "GarbageCan", "Microwave", "Shelf", "SideTable", "SinkBasin", "StoveBurner", "Toaster",
    ),
    "LivingRoom": (
        "ArmChair", "Cabinet", "CoffeeTable", "DiningTable", "Drawer", "Dresser", "GarbageCan",
        "Ottoman", "Safe", "Shelf", "SideTable", "Sofa", "TVStand",
    ),
    "Bedroom": (
        "ArmChair", "Bed", "Desk", "Drawer", "Dresser", "GarbageCan", "LaundryHamper", "Safe",
        "Shelf", "SideTable",
    ),
    "Bathroom": (
        "BathtubBasin", "Cabinet", "Cart", "CounterTop", "Drawer", "GarbageCan", "HandTowelHolder",
        "Shelf", "SinkBasin", "Toilet", "ToiletPaperHanger", "TowelHolder",
    ),
}
ROOM_OBJECTS = {
    "Kitchen": (
        "Apple", "Bowl", "Bread", "ButterKnife", "Cup", "DishSponge", "Egg", "Fork", "Glassbottle",
        "Kettle", "Knife", "Ladle", "Lettuce", "Mug", "Pan", "PepperShaker", "Plate", "Pot",
        "Potato", "SaltShaker", "SoapBottle", "Spatula", "Spoon", "Tomato", "WineBottle",
    ),
    "LivingRoom": (
        "Book", "Bowl", "Box", "CD", "Candle", "CellPhone", "CreditCard", "KeyChain", "Laptop",
        "Newspaper", "Pillow", "Plate", "RemoteControl", "Statue", "TissueBox", "Vase", "Watch",
        "WateringCan",
    ),
    "Bedroom": (
        "AlarmClock", "BaseballBat", "BasketBall", "Book", "Bowl", "Box", "CD", "CellPhone",
        "Cloth", "CreditCard", "KeyChain", "Laptop", "Mug", "Pen", "Pencil", "Pillow", "Statue",
        "TennisRacket", "TissueBox", "Watch",
    ),
    "Bathroom": (
        "Candle", "Cloth", "DishSponge", "HandTowel", "SoapBar", "SoapBottle", "SprayBottle",
        "TissueBox", "ToiletPaper", "Towel",
    ),
}
# fmt: on

# Receptacle ids that ALFRED writes as "<Parent>|x|y|z|<Class>": the demangler then names them
# "sinkbasin 1" / "bathtubbasin 1" (its rule: "basin" in the id appends "basin" to the parent).
BASIN_PARENT = {"SinkBasin": "Sink", "BathtubBasin": "Bathtub"}


@dataclass(frozen=True)
class Vocabulary:
    """Everything the generator needs from alfworld, loaded once."""

    version: str  # alfworld's __version__
    pddl_domain: str  # alfred.pddl, verbatim
    grammar: str  # alfred.twl2, verbatim; a game replaces UNKNOWN GOAL with its task
    goal_pddl: dict[str, str]  # task type -> goal formula with {obj} {recep} {toggle} fields
    templates: dict[str, tuple[str, ...]]  # task type -> task-description templates
    rooms_for_task: dict[str, tuple[str, ...]]  # task type -> room types it is set in
    scene_numbers: dict[str, tuple[int, ...]]  # room type -> ALFRED floor-plan numbers
    can_contain: dict[str, frozenset[str]]  # receptacle class -> object classes it holds
    openable: frozenset[str]  # receptacle classes that open and close
    movable_receptacles: frozenset[str]  # object classes that are receptacle objects (a mug)
    heatable: frozenset[str]
    coolable: frozenset[str]
    cleanable: frozenset[str]
    toggleable: frozenset[str]
    sliceable: frozenset[str]
    domain_constants: dict[str, str]  # "SinkBasinType" -> "rtype": types the domain names


def alfworld_dir() -> Path:
    """The installed alfworld package directory, found without importing the package."""
    spec = importlib.util.find_spec("alfworld")
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition(
            "the alfworld package is not installed; install the env service "
            "(pip install -e services/env) to generate games"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _exec_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _domain_constants(domain: str) -> dict[str, str]:
    """Type constants the domain's actions name (`(receptacleType ?r MicrowaveType)`).

    The domain has no :constants section, so every problem must declare them as objects.
    Commented-out lines are skipped: a constant only they mention need not exist.
    """
    found: dict[str, str] = {}
    for line in domain.splitlines():
        code = line.split(";", 1)[0]
        for pred, const in re.findall(r"\((receptacleType|objectType) \?\w+ (\w+Type)\)", code):
            found[const] = "rtype" if pred == "receptacleType" else "otype"
    return dict(sorted(found.items()))


@functools.cache
def load() -> Vocabulary:
    """Read the vocabulary from the installed alfworld (cached; about 10 ms)."""
    root = alfworld_dir()
    constants = _exec_file("_a3t_alfworld_constants", root / "gen" / "constants.py")
    goals = _exec_file("_a3t_alfworld_goal_library", root / "gen" / "goal_library.py")
    info = (root / "info.py").read_text()
    version = re.search(r"__version__ = '([^']+)'", info)
    domain = (root / "data" / "alfred.pddl").read_text()
    grammar = (root / "data" / "alfred.twl2").read_text()
    if grammar.count("UNKNOWN GOAL") != 1:
        raise FailedPrecondition(f"{root / 'data' / 'alfred.twl2'} has no single UNKNOWN GOAL slot")
    actions = constants.VAL_ACTION_OBJECTS
    vocab = Vocabulary(
        version=version.group(1) if version else "unknown",
        pddl_domain=domain,
        grammar=grammar,
        goal_pddl={t: goals.gdict[t]["pddl"] for t in TASK_TYPES},
        templates={t: tuple(goals.gdict[t]["templates"]) for t in TASK_TYPES},
        rooms_for_task={t: tuple(sorted(constants.GOALS_VALID[t])) for t in TASK_TYPES},
        scene_numbers={room: tuple(r) for room, r in constants.SCENE_TYPE.items()},
        can_contain={r: frozenset(objs) for r, objs in constants.VAL_RECEPTACLE_OBJECTS.items()},
        openable=frozenset(constants.OPENABLE_CLASS_LIST),
        movable_receptacles=frozenset(constants.MOVABLE_RECEPTACLES),
        heatable=frozenset(actions["Heatable"]),
        coolable=frozenset(actions["Coolable"]),
        cleanable=frozenset(actions["Cleanable"]),
        toggleable=frozenset(actions["Toggleable"]),
        sliceable=frozenset(actions["Sliceable"]),
        domain_constants=_domain_constants(domain),
    )
    _check_rooms(vocab, frozenset(constants.OBJECTS))
    return vocab


def _check_rooms(vocab: Vocabulary, objects: frozenset[str]) -> None:
    """Our room dicts must only name classes alfworld knows, placeable somewhere in the room."""
    problems = []
    for room, receptacles in ROOM_RECEPTACLES.items():
        problems += [f"{room}: receptacle {r}" for r in receptacles if r not in vocab.can_contain]
        for obj in ROOM_OBJECTS[room]:
            if obj not in objects or not any(obj in vocab.can_contain[r] for r in receptacles):
                problems.append(f"{room}: object {obj}")
    if problems:
        raise FailedPrecondition(
            f"the room vocabulary does not match alfworld {vocab.version}: {problems}"
        )
