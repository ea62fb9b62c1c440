"""The catalogue and goal generator: determinism, levels, category filter, vocabulary rules."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from a3t.envs.webshop import splits
from a3t.envs.webshop.generate import LEVELS, best_reward, generate_split, price_upper
from a3t.envs.webshop.reward import fuzzy_match, option_match, reward
from a3t.envs.webshop.vocab import CATEGORIES
from a3t.errors import InvalidArgument

SOURCE = {"test": True}


def test_same_arguments_same_bytes() -> None:
    first = generate_split(2, 7, 20)
    again = generate_split(2, 7, 20)
    assert splits.render(first.products, first.goals, SOURCE) == splits.render(
        again.products, again.goals, SOURCE
    )
    other = generate_split(2, 8, 20)
    assert [g.instruction for g in other.goals] != [g.instruction for g in first.goals]


def test_levels_grow_the_catalogue_and_the_goals() -> None:
    made = {level: generate_split(level, 7, 20) for level in LEVELS}
    assert {level: len(m.products) for level, m in made.items()} == {1: 60, 2: 180, 3: 440}
    attributes = {level: Counter(len(g.attributes) for g in m.goals) for level, m in made.items()}
    options = {level: Counter(len(g.options) for g in m.goals) for level, m in made.items()}
    assert attributes == {1: {2: 12, 1: 8}, 2: {2: 20}, 3: {2: 10, 3: 10}}
    assert options == {1: {1: 10, 0: 10}, 2: {1: 17, 2: 3}, 3: {1: 17, 2: 3}}


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_every_target_satisfies_its_goal_and_near_misses_do_not(level: int) -> None:
    made = generate_split(level, 7, 20)
    by_asin = {p.asin: p for p in made.products}
    assert len(by_asin) == len(made.products)  # ASINs are unique
    for goal in made.goals:
        target = by_asin[goal.asin]
        chosen = {target.option_group(v).name: v for v in goal.options}
        assert reward(goal, target, chosen, target.price) == 1.0
        assert goal.price_upper % 10 == 0 and target.price < goal.price_upper <= target.price + 40
        assert goal.instruction.endswith(f", and price lower than {goal.price_upper:.2f} dollars")
        # The same type, one requirement short: the distractors (and some fillers).
        near = [
            p for p in made.products if p.query == goal.query and 0.5 <= best_reward(goal, p) < 1.0
        ]
        assert len(near) >= len(LEVELS[level].near_misses)


def test_goals_cycle_through_the_categories() -> None:
    made = generate_split(1, 7, 10)
    assert [g.category for g in made.goals[:5]] == [
        "beauty",
        "electronics",
        "fashion",
        "food",
        "furniture",
    ]
    assert Counter(g.category for g in made.goals) == dict.fromkeys(CATEGORIES, 2)


def test_task_types_filter_the_categories() -> None:
    made = generate_split(2, 7, 6, ("food", "fashion"))
    assert [g.category for g in made.goals] == ["fashion", "food"] * 3
    assert {p.category for p in made.products} == {"fashion", "food"}
    assert made.goals[1].instruction == (
        "i want to buy a chocolate bar with dark chocolate and dairy free in raspberry flavor, "
        "and price lower than 60.00 dollars"
    )


@pytest.mark.parametrize(
    ("level", "count", "types", "field"),
    [(0, 5, (), "level 0"), (4, 5, (), "level 4"), (1, 0, (), "count"), (1, 5, ("toys",), "toys")],
)
def test_bad_arguments(level: int, count: int, types: tuple[str, ...], field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        generate_split(level, 0, count, types)


def test_price_bound_rule() -> None:
    import random

    bounds = {price_upper(random.Random(i), 42.99) for i in range(200)}
    assert bounds == {60.0, 70.0, 80.0}  # the larger of two of 50, 60, 70, 80
    assert price_upper(random.Random(0), 985.0) == 1000000.0  # no two multiples left: no bound


# --- the vocabulary's rules (vocab.py's docstring) -------------------------------------------


def test_types_share_only_their_category_level() -> None:
    paths = [
        f"{c.title} › {t.department}".split(" › ") for c in CATEGORIES.values() for t in c.types
    ]
    assert len(paths) == 30
    for a, b in combinations(paths, 2):
        assert len(set(a) & set(b)) < 2, (a, b)


def test_option_values_do_not_match_each_other() -> None:
    clashes = set()
    for category in CATEGORIES.values():
        for ptype in category.types:
            for group in ptype.options:
                for a, b in combinations(group.values, 2):
                    if option_match(a, b):
                        clashes.add((a, b))
    # Only clothing sizes, which goals never ask for when both are on offer.
    assert clashes == {
        ("x-small", "small"),
        ("large", "x-large"),
        ("large", "xx-large"),
        ("x-large", "xx-large"),
    }


def test_attributes_of_a_type_do_not_match_each_other() -> None:
    for category in CATEGORIES.values():
        for ptype in category.types:
            pool = (*ptype.attributes, *category.attributes)
            assert len(set(pool)) == len(pool)
            for a, b in combinations(pool, 2):
                assert not fuzzy_match(a, b), (a, b)
                assert a not in b and b not in a, (a, b)
