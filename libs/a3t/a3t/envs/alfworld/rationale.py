"""ALFWorld's rationale check: is one synthesised step's thought (an ActRe rationale) grounded in
what the agent has seen so far?

    problem = check_rationale(initial_observation, history, step)   # "" when grounded

A rationale is grounded when
(a) it names the action's object or target: one of the nouns of the action's entities (`take
    mug 1 from shelf 1`: "mug" or "shelf"), as a whole word, case-insensitive, without needing
    the number (a plural "mugs" counts); an action with no entity (`look`) needs none; and
(b) it claims nothing that the observations before the step contradict:
    - to hold or carry something (`I hold the mug`, `I'm carrying a mug 1`) that the agent does
      not hold. What it holds is followed from the env's answers: `You pick up the X from the
      Y.` adds X, `You move the X to the Y.` (`You put ...`) removes it, `You are carrying: ...`
      and `You are not carrying anything.` set it;
    - that a thing is on or in a place (`On the shelf 1, I see a mug 1`, `I go to shelf 1, and
      I see a mug 1`, `the mug 1 is on the shelf 1`), or that a place holds nothing, when the
      place's last listing (`On the shelf 1, you see ...`, `The fridge 1 is open. In it, you
      see ...`), updated by the picks and moves since, says otherwise; a place never listed is
      not judged;
    - that one thing is another (`I examine the box 1, and it is a mug.`).

It is a cheap, deterministic reading of a few phrasings, with known limits: a claim is judged
only when it names a thing of this world (a noun seen in an entity `<noun> <number>` of the
observations, the earlier actions or this action), so a claim about a thing never seen ("I hold
the newspaper" before any newspaper was listed) and any claim worded otherwise ("the shelf has a
mug", "I already took the mug") pass; places must carry their number ("On the shelf 1"); plans
("I will take the mug") claim nothing; a rationale that names the object but reasons badly
passes. It measures how often rationales are plainly wrong about the world, not how good they
are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from a3t.trajectory import Step

_ENTITY = re.compile(r"\b([a-z]+) (\d+)\b")
_WORD = re.compile(r"[a-z]+")
# The env's answers that change or show where things are (alfworld's alfred.twl2 wording).
_PICKED = re.compile(r"You pick up the ([a-z]+ \d+) from the ([a-z]+ \d+)\.")
_PLACED = re.compile(r"You (?:move|put) the ([a-z]+ \d+) (?:to|in|on) the ([a-z]+ \d+)\.")
_CARRYING = re.compile(r"You are carrying: ([^.]*)\.")
_LISTED = re.compile(r"(?:On the ([a-z]+ \d+)|The ([a-z]+ \d+) is open\. In it), you see ([^.]*)\.")
# What a rationale (lowercased) claims.
_CLAIM_HOLD = re.compile(
    r"\bi(?: am|'m)? (?:hold|holding|carry|carrying|have)(?: the| a| an| some| my)? ([a-z]+)"
)
_ITEM = re.compile(r"(?:an? |some |the )?([a-z]+)(?: (\d+))?")
# A listing is items joined by ", ", ", and ", " and "; it ends where another clause begins.
_CLAIM_LIST = re.compile(
    r"\b(?:on|in|to|at)(?: the)? ([a-z]+ \d+),? (?:and )?(?:i|you) see "
    r"((?:(?:,? and |, )?(?:an? |some |the )?[a-z]+(?: \d+)?)+)"
)
_CLAIM_AT = re.compile(r"\b([a-z]+)(?: (\d+))? (?:is|are) (?:on|in|at) the ([a-z]+ \d+)")
_CLAIM_IS = re.compile(r"\b([a-z]+)(?: \d+)?,? (?:and )?it is an? ([a-z]+)")


def check_rationale(initial_observation: str, history: Sequence[Step], step: Step) -> str:
    """Why `step`'s thought is not grounded, "" when it is (the module's docstring). `history`:
    the steps before it, with the observations that answered them (what ActRe was shown)."""
    text = step.thought.lower()
    words = set(_WORD.findall(text))
    nouns = list(dict.fromkeys(noun for noun, _ in _ENTITY.findall(step.action)))
    if nouns and not any(_named(noun, words) for noun in nouns):
        return f"names neither {' nor '.join(nouns)}" if len(nouns) > 1 else f"names no {nouns[0]}"
    seen = [initial_observation, *(t for s in history for t in (s.action, s.observation))]
    world = {noun for t in (*seen, step.action) for noun, _ in _ENTITY.findall(t)}
    held, places = _state(history)
    for word in _CLAIM_HOLD.findall(text):
        noun = _noun(word, world)
        if noun and not any(_entity_noun(h) == noun for h in held):
            return f"claims to hold a {noun}; holds {_listing(held)}"
    for place, listing in _CLAIM_LIST.findall(text):
        if place not in places:
            continue
        if listing.startswith("nothing") and places[place]:
            return f"claims nothing in {place}; seen there: {_listing(places[place])}"
        for word, number in _ITEM.findall(listing):
            problem = _absent(_noun(word, world), number, place, places[place])
            if problem:
                return problem
    for word, number, place in _CLAIM_AT.findall(text):
        problem = _absent(_noun(word, world), number, place, places.get(place))
        if problem:
            return problem
    for first, second in _CLAIM_IS.findall(text):
        a, b = _noun(first, world), _noun(second, world)
        if a and b and a != b:
            return f"calls a {a} a {b}"
    return ""


def _state(history: Sequence[Step]) -> tuple[set[str], dict[str, set[str]]]:
    """What the agent holds after `history`, and each listed place's contents (entity names)."""
    held: set[str] = set()
    places: dict[str, set[str]] = {}
    for s in history:
        obs = s.observation
        for thing, place in _PICKED.findall(obs):
            held.add(thing)
            places.get(place, set()).discard(thing)
        for thing, place in _PLACED.findall(obs):
            held.discard(thing)
            if place in places:
                places[place].add(thing)
        for listing in _CARRYING.findall(obs):
            held = _entities(listing)
        if "You are not carrying anything." in obs:
            held = set()
        for on, open_, listing in _LISTED.findall(obs):
            places[on or open_] = _entities(listing)
    return held, places


def _absent(noun: str, number: str, place: str, contents: set[str] | None) -> str:
    """The problem with claiming `noun` [`number`] at `place`, "" when none or not judged."""
    if not noun or contents is None:
        return ""
    if any(_entity_noun(c) == noun and (not number or c == f"{noun} {number}") for c in contents):
        return ""
    thing = f"{noun} {number}" if number else f"a {noun}"
    return f"claims {thing} in {place}; seen there: {_listing(contents)}"


def _entities(listing: str) -> set[str]:
    return {f"{noun} {number}" for noun, number in _ENTITY.findall(listing)}


def _entity_noun(entity: str) -> str:
    return entity.rsplit(" ", 1)[0]


def _named(noun: str, words: set[str]) -> bool:
    return bool({noun, f"{noun}s", f"{noun}es"} & words)


def _noun(word: str, world: set[str]) -> str:
    """`word` as a noun of this world (a plural as its singular), "" when it is none."""
    for candidate in (word, word.removesuffix("s"), word.removesuffix("es")):
        if candidate in world:
            return candidate
    return ""


def _listing(things: set[str]) -> str:
    return ", ".join(sorted(things)) or "nothing"
