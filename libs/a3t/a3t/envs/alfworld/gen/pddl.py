"""Render a scene as a PDDL problem over alfworld's ALFRED domain.

The layout follows the real games' problems (objects, then :init facts, then the goal from
alfworld's goal library), with the same predicates: receptacle and object types, locations,
`inReceptacle`, `canContain` for every class pair present, and the object properties
(pickupable, openable, cleanable, heatable, coolable, sliceable, toggleable, receptacle objects).
Every list is sorted, so the same scene always gives the same text.
"""

from __future__ import annotations

import textwrap

from a3t.envs.alfworld.gen.names import mangle
from a3t.envs.alfworld.gen.scene import Scene
from a3t.envs.alfworld.gen.vocab import LAMP, Vocabulary


def render_problem(vocab: Vocabulary, scene: Scene, problem_name: str) -> str:
    """The PDDL problem text of a scene; `problem_name` goes into `(problem plan_<name>)`."""
    recs = scene.receptacles
    things = scene.things
    obj_classes = sorted({t.cls for t in things})
    rec_classes = sorted({r.cls for r in recs})
    otypes = sorted({f"{c}Type" for c in obj_classes} | _constants(vocab, "otype"))
    rtypes = sorted({f"{c}Type" for c in rec_classes} | _constants(vocab, "rtype"))
    locations = sorted({r.location for r in recs} | {scene.agent_location})

    declared = (
        ["agent1 - agent"]
        + [f"{t} - otype" for t in otypes]
        + [f"{t} - rtype" for t in rtypes]
        + sorted(f"{mangle(t.id)} - object" for t in things)
        + sorted(f"{mangle(r.id)} - receptacle" for r in recs)
        + [f"{mangle(loc)} - location" for loc in locations]
    )

    facts = [f"(atLocation agent1 {mangle(scene.agent_location)})"]
    for r in sorted(recs, key=lambda r: r.id):
        name = mangle(r.id)
        facts.append(f"(receptacleType {name} {r.cls}Type)")
        facts.append(f"(receptacleAtLocation {name} {mangle(r.location)})")
        if r.cls in vocab.openable:
            facts.append(f"(openable {name})")
    for t in sorted(things, key=lambda t: t.id):
        name = mangle(t.id)
        facts.append(f"(objectType {name} {t.cls}Type)")
        facts.append(f"(inReceptacle {name} {mangle(t.receptacle.id)})")
        facts.append(f"(objectAtLocation {name} {mangle(t.receptacle.location)})")
        facts += [f"({prop} {name})" for prop in _properties(vocab, t.cls)]
    for rc in rec_classes:
        for oc in obj_classes:
            if oc in vocab.can_contain[rc]:
                facts.append(f"(canContain {rc}Type {oc}Type)")

    goal = vocab.goal_pddl[scene.task_type].format(
        obj=scene.object_cls, recep=scene.target_cls, toggle=LAMP
    )
    # The goal library writes "?r # receptacle" (its '#' becomes PDDL's '-') and ends with the
    # parenthesis that closes the define.
    goal = textwrap.dedent(goal.replace("#", "-")).strip()
    return (
        f"(define (problem plan_{problem_name})\n"
        "(:domain alfred)\n"
        "(:objects\n" + _block(declared) + ")\n"
        "(:init\n" + _block(facts) + ")\n" + goal + "\n"
    )


def _block(lines: list[str]) -> str:
    return "".join(f"        {line}\n" for line in lines)


def _constants(vocab: Vocabulary, kind: str) -> set[str]:
    return {c for c, k in vocab.domain_constants.items() if k == kind}


def _properties(vocab: Vocabulary, cls: str) -> list[str]:
    if cls == LAMP:
        # A lamp stays where it is: switched on, never picked up.
        return ["toggleable"]
    props = ["pickupable"]
    if cls in vocab.movable_receptacles:
        props.append("isReceptacleObject")
    for prop, classes in (
        ("cleanable", vocab.cleanable),
        ("heatable", vocab.heatable),
        ("coolable", vocab.coolable),
        ("sliceable", vocab.sliceable),
    ):
        if cls in classes:
            props.append(prop)
    return props
