"""The seeded task sample, stratified by task type, that max_train_tasks / max_eval_tasks and
`a3t evaluate --count` draw (a3t_controller.rounds.stratified_sample)."""

import random

from a3t.trajectory import Task
from a3t_controller.rounds import stratified_sample

# 5 tasks of type a, 2 of b, 4 of c
TASKS = [
    Task("alfworld", f"{kind}-{i}", "s", kind)
    for kind, n in (("a", 5), ("b", 2), ("c", 4))
    for i in range(n)
]


def ids(tasks: list[Task]) -> list[str]:
    return [t.task_id for t in tasks]


def test_stratified_sample_is_as_even_over_types_as_they_allow():
    # 6 of 3 types: 2 each.
    assert ids(stratified_sample(TASKS, 6, 0)) == ["a-0", "a-2", "b-0", "b-1", "c-1", "c-2"]
    # 7: 2 each, the one left over to a type drawn with the seed.
    assert ids(stratified_sample(TASKS, 7, 0)) == [
        *("a-0", "a-2", "a-3"),
        *("b-0", "b-1"),
        *("c-1", "c-2"),
    ]
    # 9: 3 each, but b has only 2: its third goes to another type.
    assert ids(stratified_sample(TASKS, 9, 0)) == [
        *("a-0", "a-1", "a-2", "a-3"),
        *("b-0", "b-1"),
        *("c-0", "c-1", "c-3"),
    ]
    assert ids(stratified_sample(TASKS, 3, 0)) == ["a-0", "b-1", "c-3"]
    assert ids(stratified_sample(TASKS, 1, 0)) == ["a-0"]


def test_stratified_sample_is_seeded_and_ignores_the_listing_order():
    assert ids(stratified_sample(TASKS, 3, 1)) == ["a-2", "b-0", "c-3"]  # another seed
    assert ids(stratified_sample(TASKS, 6, 1)) == ["a-0", "a-2", "b-0", "b-1", "c-2", "c-3"]
    shuffled = TASKS[:]
    random.Random(5).shuffle(shuffled)
    for count in range(1, 11):
        assert stratified_sample(shuffled, count, "0:s") == stratified_sample(TASKS, count, "0:s")
    # Asking for as many as there are, or more: every task, sorted by id.
    assert ids(stratified_sample(shuffled, 11, 0)) == sorted(ids(TASKS))
    assert ids(stratified_sample(shuffled, 50, 0)) == sorted(ids(TASKS))
