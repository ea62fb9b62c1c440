"""A seeded generator of WebShop splits: a catalogue and goals, each goal with a known target.

Per goal it makes a target product of a random type of the goal's category, a goal that names
some of the target's attributes and option values and a price bound above its price (WebShop's
rule: the larger of two of the next four multiples of ten), and near-miss distractors: copies
of the target that miss exactly one requirement (an attribute, an option value, or the price
bound), so that only reading the pages tells them apart. Filler products of random types fill
the rest. Every goal is checked with the reward function: its target scores 1.0, each distractor
less. Other products may satisfy a goal too (as in WebShop); the target is the one known to.

Levels (`LEVELS`) trade catalogue size and distractors for difficulty: with 20 goals, level 1
has about 60 products (one distractor per goal), level 3 about 440 (six per goal). The same
(level, seed, count, categories) always gives the same products and goals.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

from a3t.envs.base import MAX_GENERATED_TASKS
from a3t.envs.webshop.catalog import Goal, OptionGroup, Product, Review
from a3t.envs.webshop.reward import option_match, reward
from a3t.envs.webshop.vocab import (
    CATEGORIES,
    DESCRIPTION_ENDINGS,
    FEATURE_ENDINGS,
    INSTRUCTION_OPENINGS,
    REVIEWS,
    Category,
    ProductType,
)
from a3t.errors import InvalidArgument

NO_PRICE_BOUND = 1000000.0  # WebShop's bound when no price is asked for
_ASIN_CHARS = string.digits + string.ascii_uppercase


@dataclass(frozen=True)
class Level:
    goal_attributes: tuple[int, int]  # how many attributes a goal names (min, max)
    goal_options: tuple[int, int]  # how many option values it asks for (min, max)
    near_misses: tuple[str, ...]  # one distractor per entry: "attribute", "option" or "price"
    fillers: int  # products no goal is about


LEVELS: dict[int, Level] = {
    1: Level((1, 2), (0, 1), ("attribute",), 20),
    2: Level((2, 2), (1, 2), ("attribute", "option", "price"), 100),
    3: Level((2, 3), (1, 2), ("attribute", "attribute", "option", "option", "price", "price"), 300),
}


@dataclass(frozen=True)
class GeneratedSplit:
    products: tuple[Product, ...]
    goals: tuple[Goal, ...]


def check_arguments(level: int, count: int, categories: Sequence[str]) -> None:
    if level not in LEVELS:
        raise InvalidArgument(f"level {level} is not a WebShop level; levels: {sorted(LEVELS)}")
    if not 1 <= count <= MAX_GENERATED_TASKS:
        raise InvalidArgument(f"count must be 1 to {MAX_GENERATED_TASKS} goals, got {count}")
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        shown = repr(unknown)  # a client's: cut short, or the status is too big to send
        shown = shown if len(shown) <= 80 else f"{shown[:80]}... ({len(shown)} characters)"
        raise InvalidArgument(
            f"task_types {shown} are not WebShop categories; choose from {sorted(CATEGORIES)} "
            "(or none for all)"
        )


def generate_split(
    level: int, seed: int, count: int, categories: Sequence[str] = ()
) -> GeneratedSplit:
    """`count` goals spread evenly over `categories` (all five when empty)."""
    check_arguments(level, count, categories)
    spec = LEVELS[level]
    cats = [CATEGORIES[c] for c in sorted(set(categories) or CATEGORIES)]
    rng = random.Random(f"a3t-webshop:{level}:{seed}:{count}:{','.join(c.name for c in cats)}")
    maker = _ProductMaker(rng)
    products: list[Product] = []
    goals: list[Goal] = []
    for i in range(count):
        category = cats[i % len(cats)]
        ptype = rng.choice(category.types)
        n_attributes = spec.goal_attributes[1] + rng.randint(1, 2)
        target = maker.make(category, ptype, maker.attributes(category, ptype, n_attributes))
        goal = _make_goal(rng, spec, category, ptype, target)
        products.append(target)
        for kind in spec.near_misses:
            distractor = _near_miss(rng, maker, kind, category, ptype, target, goal)
            if distractor is not None:
                products.append(distractor)
        goals.append(goal)
    for _ in range(spec.fillers):
        category = rng.choice(cats)
        ptype = rng.choice(category.types)
        products.append(maker.make(category, ptype, maker.attributes(category, ptype, 4)))
    rng.shuffle(products)
    return GeneratedSplit(tuple(products), tuple(goals))


# --- products --------------------------------------------------------------------------------


def _title(phrase: str) -> str:
    return " ".join(w if w[:1].isdigit() else w[:1].upper() + w[1:] for w in phrase.split())


class _ProductMaker:
    """Builds products with unique ASINs and text written from their own attributes only."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._asins: set[str] = set()

    def asin(self) -> str:
        while True:
            asin = "B0" + "".join(self.rng.choice(_ASIN_CHARS) for _ in range(8))
            if asin not in self._asins:
                self._asins.add(asin)
                return asin

    def attributes(self, category: Category, ptype: ProductType, n: int) -> tuple[str, ...]:
        # Type attributes first: they are what tells products of a type apart.
        own = self.rng.sample(ptype.attributes, min(n - 1, len(ptype.attributes)))
        shared = self.rng.sample(category.attributes, n - len(own))
        return tuple(own + shared)

    def options(self, ptype: ProductType) -> tuple[OptionGroup, ...]:
        groups = []
        for group in ptype.options:
            k = self.rng.randint(min(2, len(group.values)), len(group.values))
            picked = set(self.rng.sample(group.values, k))
            groups.append(OptionGroup(group.name, tuple(v for v in group.values if v in picked)))
        return tuple(groups)

    def price(self, low: float, high: float) -> float:
        return max(round(self.rng.uniform(low, high)), 2) - 0.01

    def make(
        self,
        category: Category,
        ptype: ProductType,
        attributes: tuple[str, ...],
        options: tuple[OptionGroup, ...] | None = None,
        price: float | None = None,
    ) -> Product:
        rng = self.rng
        brand = rng.choice(category.brands)
        options = self.options(ptype) if options is None else options
        price = self.price(*ptype.price) if price is None else price
        lead, *rest = attributes
        name = f"{brand} {_title(lead)} {ptype.title}"
        if rest[:2]:
            name += ", " + ", ".join(_title(a) for a in rest[:2])
        endings = rng.sample(FEATURE_ENDINGS, len(attributes))
        features = tuple(f"{_title(a)}: {e}" for a, e in zip(attributes, endings, strict=True))
        description = f"{name}. Highlights: {_join(attributes)}. {rng.choice(DESCRIPTION_ENDINGS)}"
        reviews = tuple(Review(t, s, b) for t, s, b in rng.sample(REVIEWS, 2))
        rating = sum(r.score for r in reviews) / len(reviews)
        return Product(
            asin=self.asin(),
            name=name,
            category=category.name,
            query=ptype.query,
            product_category=f"{category.title} › {ptype.department}",
            price=price,
            price_text=f"${price:.2f}",
            rating=f"{rating:.1f}",
            attributes=attributes,
            options=options,
            features=features,
            description=description,
            reviews=reviews,
        )


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


# --- goals -----------------------------------------------------------------------------------


def _unambiguous(group: OptionGroup) -> list[str]:
    """Values no other value of the group matches (so choosing another one cannot score)."""
    return [v for v in group.values if not any(option_match(v, o) for o in group.values if o != v)]


def price_upper(rng: random.Random, price: float) -> float:
    """WebShop's rule: of the next four multiples of ten above the price, the larger of two
    drawn at random."""
    above = [10.0 * i for i in range(1, 100) if 10.0 * i > price][:4]
    return max(rng.sample(above, 2)) if len(above) >= 2 else NO_PRICE_BOUND


def _option_phrase(group: str, value: str) -> str:
    return f"{group} {value}" if value[:1].isdigit() else f"{value} {group}"


def _instruction(
    rng: random.Random,
    ptype: ProductType,
    attributes: Sequence[str],
    options: Sequence[tuple[str, str]],
    bound: float,
) -> str:
    opening = rng.choice(INSTRUCTION_OPENINGS)
    if rng.random() < 0.5:
        item = f"{ptype.query} with {_join(attributes)}"
        article = ptype.article
    else:
        item = f"{', '.join(attributes)} {ptype.query}"
        article = ("an" if attributes[0][:1] in "aeiou" else "a") if ptype.article else ""
    text = f"{opening} {article} {item}" if article else f"{opening} {item}"
    if options:
        text += " in " + " and ".join(_option_phrase(g, v) for g, v in options)
    if bound < NO_PRICE_BOUND:
        text += f", and price lower than {bound:.2f} dollars"
    return text


def _make_goal(
    rng: random.Random, spec: Level, category: Category, ptype: ProductType, target: Product
) -> Goal:
    n_attributes = rng.randint(*spec.goal_attributes)
    attributes = rng.sample(target.attributes, min(n_attributes, len(target.attributes)))
    askable = [(g, _unambiguous(g)) for g in target.options]
    askable = [(g, values) for g, values in askable if values]
    n_options = min(rng.randint(*spec.goal_options), len(askable))
    picked = sorted(rng.sample(range(len(askable)), n_options))
    options = [(askable[i][0].name, rng.choice(askable[i][1])) for i in picked]
    bound = price_upper(rng, target.price)
    goal = Goal(
        asin=target.asin,
        category=category.name,
        query=target.query,
        name=target.name,
        product_category=target.product_category,
        instruction=_instruction(rng, ptype, attributes, options, bound),
        attributes=tuple(attributes),
        options=tuple(v for _, v in options),
        price_upper=bound,
    )
    if reward(goal, target, dict(options), target.price) != 1.0:
        raise AssertionError(f"generator bug: goal {goal} is not satisfied by its target")
    return goal


# --- near misses -----------------------------------------------------------------------------


def best_reward(goal: Goal, product: Product) -> float:
    """The most buying `product` can score for `goal`: per group, a value matching one of the
    goal's options when there is one."""
    chosen = {}
    for group in product.options:
        fits = [v for v in group.values if any(option_match(w, v) for w in goal.options)]
        chosen[group.name] = (fits or list(group.values))[0]
    return reward(goal, product, chosen, product.price)


def _near_miss(
    rng: random.Random,
    maker: _ProductMaker,
    kind: str,
    category: Category,
    ptype: ProductType,
    target: Product,
    goal: Goal,
) -> Product | None:
    """A product like the target that misses one of the goal's requirements: an attribute, an
    option value (an attribute when the goal asks for none) or the price bound. None when there
    is no bound to exceed, or when the copy would still satisfy the goal."""
    if kind == "option" and not goal.options:
        kind = "attribute"  # nothing to miss there; miss an attribute instead
    attributes, options, price = target.attributes, target.options, target.price
    if kind == "attribute":
        dropped = rng.choice(goal.attributes)
        pool = [a for a in (*ptype.attributes, *category.attributes) if a not in attributes]
        attributes = tuple(rng.choice(pool) if a == dropped else a for a in attributes)
    elif kind == "option":
        missing = rng.choice(goal.options)
        full = {g.name: g for g in ptype.options}
        groups = []
        for group in options:
            if missing in group.values:
                others = [v for v in full[group.name].values if v != missing]
                kept = [v for v in others if v in group.values]
                fresh = [v for v in others if v not in group.values]
                values = set(kept + fresh[:1])
                group = OptionGroup(
                    group.name, tuple(v for v in full[group.name].values if v in values)
                )
            groups.append(group)
        options = tuple(groups)
    elif kind == "price":
        if goal.price_upper >= NO_PRICE_BOUND:
            return None
        price = round(goal.price_upper + rng.uniform(2, 25)) - 0.01
    else:
        raise ValueError(f"unknown near-miss kind {kind!r}")
    product = maker.make(category, ptype, attributes, options, price)
    return product if best_reward(goal, product) < 1.0 else None
