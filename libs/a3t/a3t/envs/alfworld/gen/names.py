"""ALFRED entity ids: their PDDL spelling and the names players see.

An ALFRED id such as "Mug|+01.20|+00.91|-02.35" is written in PDDL as
"Mug_bar__plus_01_dot_20_bar__plus_00_dot_91_bar__minus_02_dot_35" (alfworld's
`fix_pddl_str_chars`). The engine lower-cases it, and alfworld's `Demangler` names it "mug 1":
within a class, ids are numbered in reverse sorted order. `display_names` reproduces that rule so
the walkthrough can be written before the game is ever loaded; the contract tests check it
against the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Order matters: '-' first, since the other replacements introduce no '-'.
_MANGLE = (("-", "_minus_"), ("|", "_bar_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_"))


def mangle(alfred_id: str) -> str:
    """'Mug|+01.20|...' -> 'Mug_bar__plus_01_dot_20...' (alfworld's PDDL spelling)."""
    for old, new in _MANGLE:
        alfred_id = alfred_id.replace(old, new)
    return alfred_id


def display_names(alfred_ids: Iterable[str]) -> dict[str, str]:
    """Map each ALFRED id to the name alfworld's Demangler gives it ("sinkbasin 2").

    The Demangler sorts the lower-cased PDDL names, takes the class as the text before the first
    "_bar_" (plus "basin" when the id contains "basin", so "Sink|...|SinkBasin" is a sinkbasin),
    and hands out the numbers count..1 in that sorted order.
    """
    pddl = {i: mangle(i).lower() for i in alfred_ids}
    groups: dict[str, list[str]] = defaultdict(list)
    for alfred_id in sorted(pddl, key=pddl.__getitem__):
        name = pddl[alfred_id].split("_bar_", 1)[0]
        if "basin" in pddl[alfred_id]:
            name += "basin"
        groups[name].append(alfred_id)
    names = {}
    for name, members in groups.items():
        for k, alfred_id in enumerate(members):
            names[alfred_id] = f"{name} {len(members) - k}"
    return names
