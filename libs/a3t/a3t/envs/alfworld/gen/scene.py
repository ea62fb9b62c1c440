"""Sample one room with a task in it, and plan its walkthrough.

A scene is a room type (kitchen, living room, bedroom, bathroom) furnished with receptacles, each
at its own location, holding the task's object, distractor objects and, for look_at_obj_in_light,
a desk lamp. The walkthrough is built by a small constructive planner that tracks where the agent
is and which receptacles are open, and writes each command in the real games' wording with the
names the engine's demangler will give ("mug 2", "sinkbasin 1").

Entity ids follow ALFRED ("Mug|+01.20|+00.91|-02.35", "loc|3|-2|1|60"); `names.py` turns them
into PDDL names and display names.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from a3t.envs.alfworld.gen.levels import Level
from a3t.envs.alfworld.gen.names import display_names
from a3t.envs.alfworld.gen.vocab import (
    APPLIANCE,
    BASIN_PARENT,
    LAMP,
    LAMP_STANDS,
    ROOM_OBJECTS,
    ROOM_RECEPTACLES,
    Vocabulary,
)

logger = logging.getLogger(__name__)

# Receptacle classes a room has at most one of (two fridges would read oddly and add nothing).
SINGLE = frozenset(
    {
        "BathtubBasin", "CoffeeMachine", "Fridge", "GarbageCan", "LaundryHamper", "Microwave",
        "Safe", "Sofa", "TVStand", "Toaster", "Toilet",
    }
)  # fmt: skip
# Pick tasks are won as soon as the object is in a target-class receptacle.
_PICK_TYPES = ("pick_and_place_simple", "pick_two_obj_and_place")
# Re-draws allowed before a level is declared unable to produce a task type (a bug, not bad luck:
# the unit tests generate every admitted type at every level).
MAX_DRAWS = 500


@dataclass(frozen=True)
class Receptacle:
    cls: str  # "Drawer"
    id: str  # "Drawer|+01.63|+00.18|-01.21"
    location: str  # "loc|3|-2|1|60"


@dataclass(frozen=True)
class Thing:
    """A movable object (or the desk lamp) and the receptacle it starts in."""

    cls: str
    id: str
    receptacle: Receptacle


@dataclass(frozen=True)
class Scene:
    task_type: str
    room: str  # "Kitchen"
    scene_number: int  # ALFRED floor plan number of that room type, for the folder name
    object_cls: str  # the task's object class ("Mug")
    target_cls: str  # the target receptacle class, or "DeskLamp" for look_at_obj_in_light
    task: str  # "put a clean mug in coffeemachine"
    receptacles: tuple[Receptacle, ...]
    things: tuple[Thing, ...]
    agent_location: str
    walkthrough: tuple[str, ...]


def sample_scene(vocab: Vocabulary, level: Level, task_type: str, rng: random.Random) -> Scene:
    """Draw scenes until one's walkthrough length is within the level's plan_steps."""
    low, high = level.plan_steps
    for _ in range(MAX_DRAWS):
        scene = _draw(vocab, level, task_type, rng)
        if scene is not None and low <= len(scene.walkthrough) <= high:
            return scene
    raise RuntimeError(
        f"no {task_type} scene with a {low}-{high} step walkthrough in {MAX_DRAWS} draws: "
        "the level's knobs contradict each other"
    )


# --- drawing a scene


def _draw(vocab: Vocabulary, level: Level, task_type: str, rng: random.Random) -> Scene | None:
    rooms = [r for r in vocab.rooms_for_task[task_type] if r in ROOM_RECEPTACLES]
    room = rng.choice(rooms)
    appliance = APPLIANCE.get(task_type)
    # Openable furniture only where the level allows it; an appliance the task needs always.
    pool = [
        r
        for r in ROOM_RECEPTACLES[room]
        if level.closed_receptacles or r not in vocab.openable or r == appliance
    ]

    # --- the task's object class and target class
    choices = _task_choices(vocab, task_type, room, pool)
    if not choices:
        return None
    obj_cls, target_cls = rng.choice(choices)
    sources = [r for r in pool if _can_hold_source(vocab, task_type, r, obj_cls, target_cls)]
    if not sources:
        return None

    # --- receptacle classes: what the task needs first, then furniture up to the level's count
    look = task_type == "look_at_obj_in_light"
    if look:
        stand_classes = [r for r in pool if r in LAMP_STANDS]
        if level.lamp_with_object:
            stand_classes = [r for r in stand_classes if r in sources]
            needed = []
        else:
            needed = [rng.choice(sources)]
        if not stand_classes:
            return None
        needed.append(rng.choice(stand_classes))
    else:
        needed = [rng.choice(sources), target_cls]
    if appliance is not None:
        needed.append(appliance)
    classes = _dedupe_singles(needed)
    count = max(rng.randint(*level.receptacles), len(classes))
    while len(classes) < count:
        extra = rng.choice(pool)
        if extra not in SINGLE or extra not in classes:
            classes.append(extra)
    rng.shuffle(classes)
    ids = _IdMaker(rng)
    receptacles = [Receptacle(c, ids.receptacle(c), ids.location()) for c in classes]

    # --- things: the task object's copies, the lamp, distractors
    holders = [
        r for r in receptacles if _can_hold_source(vocab, task_type, r.cls, obj_cls, target_cls)
    ]
    copies = rng.randint(*level.copies)
    if task_type == "pick_two_obj_and_place":
        copies = max(copies, 2)
    first_at = rng.choice(holders)
    if look:
        stands = [r for r in receptacles if r.cls in LAMP_STANDS]
        if level.lamp_with_object:
            stands = [r for r in stands if r in holders]
        lamp_at = rng.choice(stands)
        first_at = lamp_at if level.lamp_with_object else first_at
    things = [Thing(obj_cls, ids.object(obj_cls), first_at)]
    things += [Thing(obj_cls, ids.object(obj_cls), rng.choice(holders)) for _ in range(copies - 1)]
    if look:
        things.append(Thing(LAMP, ids.object(LAMP), lamp_at))
    others = [o for o in ROOM_OBJECTS[room] if o != obj_cls]
    for _ in range(rng.randint(*level.distractors)):
        cls = rng.choice(others)
        places = [r for r in receptacles if cls in vocab.can_contain[r.cls]]
        if places:
            things.append(Thing(cls, ids.object(cls), rng.choice(places)))

    source = things[0].receptacle
    agent = source.location if level.start_at_object else ids.location()
    names = display_names([r.id for r in receptacles] + [t.id for t in things])
    plan = _Planner(vocab, names, agent)
    walkthrough = _plan(plan, task_type, things, receptacles, target_cls, rng)

    template = rng.choice(vocab.templates[task_type])
    task = template.format(obj=obj_cls.lower(), recep=target_cls.lower(), toggle=LAMP.lower())
    return Scene(
        task_type=task_type,
        room=room,
        scene_number=rng.choice(vocab.scene_numbers[room]),
        object_cls=obj_cls,
        target_cls=LAMP if task_type == "look_at_obj_in_light" else target_cls,
        task=task,
        receptacles=tuple(receptacles),
        things=tuple(things),
        agent_location=agent,
        walkthrough=tuple(walkthrough),
    )


def _task_choices(
    vocab: Vocabulary, task_type: str, room: str, pool: list[str]
) -> list[tuple[str, str]]:
    """(object class, target class) pairs the task can use in this room, in a fixed order."""
    appliance = APPLIANCE.get(task_type)
    wanted = {
        "pick_clean_then_place_in_recep": vocab.cleanable,
        "pick_heat_then_place_in_recep": vocab.heatable,
        "pick_cool_then_place_in_recep": vocab.coolable,
    }.get(task_type)
    pairs = []
    for obj in ROOM_OBJECTS[room]:
        if wanted is not None and obj not in wanted:
            continue
        if task_type == "look_at_obj_in_light":
            if any(r in LAMP_STANDS for r in pool):
                pairs.append((obj, LAMP))
            continue
        for target in pool:
            # The appliance is never the target: ALFRED has no "heat a mug and put it in the
            # microwave", and it would make the state change and the placement one step.
            if target != appliance and obj in vocab.can_contain[target]:
                pairs.append((obj, target))
    return [p for p in pairs if any(_can_hold_source(vocab, task_type, r, *p) for r in pool)]


def _can_hold_source(vocab: Vocabulary, task_type: str, recep: str, obj: str, target: str) -> bool:
    """Whether a copy of the task's object may start in a receptacle of class `recep`."""
    if obj not in vocab.can_contain[recep]:
        return False
    # A pick task whose object already sits in a target-class receptacle would be won at start.
    return not (task_type in _PICK_TYPES and recep == target)


def _dedupe_singles(classes: list[str]) -> list[str]:
    out: list[str] = []
    for c in classes:
        if c not in SINGLE or c not in out:
            out.append(c)
    return out


class _IdMaker:
    """ALFRED-style ids with random coordinates, never the same id twice in a scene."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            made = make()
            if made not in self._used:
                self._used.add(made)
                return made

    def _xyz(self) -> str:
        return "|".join(f"{self._rng.uniform(-3.0, 3.0):+06.2f}" for _ in range(3))

    def receptacle(self, cls: str) -> str:
        if cls in BASIN_PARENT:
            return self._unique(lambda: f"{BASIN_PARENT[cls]}|{self._xyz()}|{cls}")
        return self._unique(lambda: f"{cls}|{self._xyz()}")

    def object(self, cls: str) -> str:
        return self._unique(lambda: f"{cls}|{self._xyz()}")

    def location(self) -> str:
        def make() -> str:
            x, z = self._rng.randint(-12, 12), self._rng.randint(-12, 12)
            return f"loc|{x}|{z}|{self._rng.randint(0, 3)}|{self._rng.choice((0, 15, 30, 45, 60))}"

        return self._unique(make)


# --- planning the walkthrough


class _Planner:
    """Writes commands while tracking the agent's location and the opened receptacles."""

    def __init__(self, vocab: Vocabulary, names: dict[str, str], agent_location: str):
        self.vocab = vocab
        self.names = names
        self.at = agent_location
        self.opened: set[str] = set()
        self.steps: list[str] = []

    def go(self, r: Receptacle) -> None:
        # "go to" the receptacle where the agent already is is not an admissible command.
        if self.at != r.location:
            self.steps.append(f"go to {self.names[r.id]}")
            self.at = r.location

    def reach_inside(self, r: Receptacle) -> None:
        self.go(r)
        if r.cls in self.vocab.openable and r.id not in self.opened:
            self.steps.append(f"open {self.names[r.id]}")
            self.opened.add(r.id)

    def take(self, t: Thing) -> None:
        self.reach_inside(t.receptacle)
        self.steps.append(f"take {self.names[t.id]} from {self.names[t.receptacle.id]}")

    def put(self, t: Thing, r: Receptacle) -> None:
        self.reach_inside(r)
        self.steps.append(f"move {self.names[t.id]} to {self.names[r.id]}")

    def apply(self, verb: str, t: Thing, appliance: Receptacle) -> None:
        # heat/cool/clean work on a closed microwave or fridge, as in the real games.
        self.go(appliance)
        self.steps.append(f"{verb} {self.names[t.id]} with {self.names[appliance.id]}")

    def use(self, lamp: Thing) -> None:
        self.go(lamp.receptacle)
        self.steps.append(f"use {self.names[lamp.id]}")


_VERB = {
    "pick_clean_then_place_in_recep": "clean",
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
}


def _plan(
    plan: _Planner,
    task_type: str,
    things: list[Thing],
    receptacles: list[Receptacle],
    target_cls: str,
    rng: random.Random,
) -> list[str]:
    first = things[0]
    if task_type == "look_at_obj_in_light":
        lamp = next(t for t in things if t.cls == LAMP)
        plan.take(first)
        plan.use(lamp)
        return plan.steps
    targets = [r for r in receptacles if r.cls == target_cls]
    # Putting the object back where it was is the shortest plan when that is allowed.
    target = first.receptacle if first.receptacle in targets else rng.choice(targets)
    if task_type in _VERB:
        appliance = rng.choice([r for r in receptacles if r.cls == APPLIANCE[task_type]])
        plan.take(first)
        plan.apply(_VERB[task_type], first, appliance)
        plan.put(first, target)
    elif task_type == "pick_and_place_simple":
        plan.take(first)
        plan.put(first, target)
    else:  # pick_two_obj_and_place
        for t in things[:2]:
            plan.take(t)
            plan.put(t, target)
    return plan.steps
