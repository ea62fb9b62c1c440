"""WebShop through the real env service: EnvServicer + EnvCore + a GamePool with one worker
process, on a loopback port, called through the generated stubs only.

One generated split (level 1, seed 3, 20 goals: 60 products) serves every test. Goals are picked
by their target's ASIN (the generator is seeded, so the catalogue is the same on every run); the
expected pages are WebShop's simple observation mode as a3t/envs/webshop/pages.py documents it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.webshop import splits
from a3t.envs.webshop.catalog import Goal
from a3t.envs.webshop.engine import WebShopEnvironment
from a3t.envs.webshop.oracle import ScriptedShopper
from a3t.envs.webshop.search import product_text
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env

SPLIT = "shop"
GENERATE = {"env": "webshop", "split": SPLIT, "level": 1, "seed": 3, "count": 20}
CATEGORIES = ["beauty", "electronics", "fashion", "food", "furniture"]
SEP = " [SEP] "
NAV = ["click[Back to Search]", "click[< Prev]"]
# The goal with an option: "... power bank in black color, and price lower than 70.00 dollars".
POWER_BANK = "B0X1H1LEH9"
# A goal with one attribute and no option: "... ground coffee with low acid ...".
COFFEE = "B06562Q8NR"
DONE = "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] {:.2f}"
WHY_NOT_AN_ACTION = (
    " is not an action. Write search[query] on the search page or click[button] with a button "
    "shown in brackets."
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop(tmp_path_factory: pytest.TempPathFactory):
    """(stub, the webshop data root, the GenerateTasks response of the split every test uses)."""
    settings = EnvSettings(envs=("webshop",), data_root=tmp_path_factory.mktemp("envs"), workers=1)
    assert settings.problems() == []
    async with serving_env(settings) as (chan, _):
        stub = env_pb2_grpc.EnvServiceStub(chan)
        generated = await stub.GenerateTasks(env_pb2.GenerateTasksRequest(**GENERATE), timeout=60)
        yield stub, settings.env_root("webshop"), generated


# --- helpers ---------------------------------------------------------------------------------


async def _code(coro) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


def _goals(root: Path) -> dict[str, Goal]:
    """task_id -> goal, read from the split's files by the engine (on the service's data root)."""
    env = WebShopEnvironment(root)
    return {record.task_id: env.goal(record) for record in env.list_tasks(SPLIT)}


def _task_id(root: Path, asin: str) -> str:
    (task_id,) = [t for t, goal in _goals(root).items() if goal.asin == asin]
    return task_id


async def _open(stub, task_id: str) -> env_pb2.CreateSessionResponse:
    return await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="webshop", split=SPLIT, task_id=task_id), timeout=30
    )


async def _play(stub, session_id: str, actions: list[str]) -> list[env_pb2.StepResponse]:
    steps = []
    for action in actions:
        steps.append(await stub.Step(env_pb2.StepRequest(session_id=session_id, action=action)))
    return steps


def _search_page(goal: Goal) -> str:
    return f"WebShop [SEP] Instruction: [SEP] {goal.instruction} [SEP] Search"


def _results_page(root: Path, page: int, total: int, asins: list[str]) -> str:
    products = splits.read(root, SPLIT).by_asin
    parts = ["[Back to Search]", f"Page {page} (Total results: {total})"]
    parts += ["[< Prev]"] * (page > 1) + ["[Next >]"] * (page * 10 < total)
    for asin in asins:
        parts += [f"[{asin}]", products[asin].name, products[asin].price_text]
    return SEP.join(parts)


def _shown(step: env_pb2.StepResponse, nav: int) -> list[str]:
    """The ASINs a results page lists (its clickables after `nav` navigation buttons)."""
    clicks = list(step.admissible_actions[nav:])
    assert all(re.fullmatch(r"click\[B0[0-9A-Z]{8}\]", c) for c in clicks), clicks
    return [c[len("click[") : -1] for c in clicks]


def _power_bank_page(chosen: str = "") -> str:
    colors = [f"[[{c}]]" if c == chosen else f"[{c}]" for c in ("black", "white")]
    return SEP.join(
        [
            "[Back to Search]",
            "[< Prev]",
            "color",
            *colors,
            "Zentra Led Display Power Bank, Quick Charge, One Year Warranty",
            "Price: $52.99",
            "Rating: 3.5",
            "[Description]",
            "[Features]",
            "[Reviews]",
            "[Buy Now]",
        ]
    )


POWER_BANK_CLICKS = [
    *NAV,
    "click[black]",
    "click[white]",
    "click[Description]",
    "click[Features]",
    "click[Reviews]",
    "click[Buy Now]",
]


# --- GenerateTasks and ListTasks -------------------------------------------------------------


async def test_generate_and_list_tasks(shop):
    stub, root, generated = shop
    assert (generated.split, generated.total_size) == (SPLIT, 20)
    listed = await stub.ListTasks(env_pb2.ListTasksRequest(env="webshop", split=SPLIT))
    assert listed.total_size == 20 == len(listed.tasks) and listed.next_page_token == ""
    goals = _goals(root)
    assert [t.task_id for t in listed.tasks] == list(goals)  # the engine's order, by task_id
    assert {(t.env, t.split) for t in listed.tasks} == {("webshop", SPLIT)}
    # Task types are the goals' categories, spread evenly over WebShop's five.
    assert [t.task_type for t in listed.tasks] == [g.category for g in goals.values()]
    assert Counter(t.task_type for t in listed.tasks) == {c: 4 for c in CATEGORIES}

    goals_file = (root / SPLIT / "goals.json").read_bytes()
    again = await stub.GenerateTasks(env_pb2.GenerateTasksRequest(**GENERATE), timeout=60)
    assert (again.split, again.total_size) == (SPLIT, 20)
    assert (root / SPLIT / "goals.json").read_bytes() == goals_file
    relisted = await stub.ListTasks(env_pb2.ListTasksRequest(env="webshop", split=SPLIT))
    assert relisted == listed


async def test_generate_errors(shop):
    stub, root, _ = shop
    goals_file = (root / SPLIT / "goals.json").read_bytes()
    cases = [
        (
            {"seed": 4},
            grpc.StatusCode.FAILED_PRECONDITION,
            f"split '{SPLIT}' already exists under {root / SPLIT} with other tasks",
        ),
        (
            {"split": "other", "level": 9},
            grpc.StatusCode.INVALID_ARGUMENT,
            "level 9 is not a WebShop level; levels: [1, 2, 3]",
        ),
        (
            {"split": "other", "count": 0},
            grpc.StatusCode.INVALID_ARGUMENT,
            "count must be 1 to 10000 goals, got 0",
        ),
        (
            # a count past env.proto's bound held the generator (and the split) past the deadline
            {"split": "other", "count": 10_001},
            grpc.StatusCode.INVALID_ARGUMENT,
            "count must be 1 to 10000 goals, got 10001",
        ),
        (
            {"split": "other", "task_types": ["garden"]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "task_types ['garden'] are not WebShop categories",
        ),
        ({"split": "../up"}, grpc.StatusCode.INVALID_ARGUMENT, "split '../up' must be 1-64"),
    ]
    for fields, code, text in cases:
        request = env_pb2.GenerateTasksRequest(**{**GENERATE, **fields})
        got, details = await _code(stub.GenerateTasks(request, timeout=60))
        assert (got, text in details) == (code, True), (fields, details)
    # Nothing was written: the split is unchanged and no other split appeared.
    assert (root / SPLIT / "goals.json").read_bytes() == goals_file
    assert sorted(p.name for p in root.iterdir()) == [SPLIT]
    listed = await stub.ListTasks(env_pb2.ListTasksRequest(env="webshop", split=SPLIT))
    assert listed.total_size == 20


# --- a scripted agent through Step -----------------------------------------------------------


async def test_scripted_shopper_buys_every_goal(shop):
    stub, root, _ = shop
    goals = _goals(root)
    assert len(goals) == 20
    for task_id, goal in goals.items():
        start = await _open(stub, task_id)
        assert start.task.instruction == goal.instruction and start.task.task_type == goal.category
        assert (start.observation, list(start.admissible_actions)) == (_search_page(goal), [])
        shopper = ScriptedShopper(goal)
        observation, admissible, actions = start.observation, start.admissible_actions, []
        step = None
        while step is None or not step.done:
            assert len(actions) < 10, (task_id, actions)
            actions.append(shopper.next_action(observation, admissible))
            step = await stub.Step(
                env_pb2.StepRequest(session_id=start.session_id, action=actions[-1])
            )
            assert step.step_index == len(actions) and step.admissible
            if not step.done:
                assert (step.reward, step.won) == (0.0, False)
            observation, admissible = step.observation, step.admissible_actions
        # Search, the target (on the first results page), each asked option, Buy Now.
        assert actions == [
            f"search[{' '.join((goal.query, *goal.attributes))}]",
            f"click[{goal.asin}]",
            *(f"click[{value}]" for value in goal.options),
            "click[Buy Now]",
        ]
        assert (step.reward, step.won, step.done) == (1.0, True, True)
        assert (step.observation, list(step.admissible_actions)) == (DONE.format(1.0), [])
        closed = await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))
        assert (closed.steps_taken, closed.won) == (len(actions), True)


# --- pages, navigation and invalid actions ---------------------------------------------------


async def test_search_and_pagination(shop):
    stub, root, _ = shop
    start = await _open(stub, _task_id(root, POWER_BANK))
    assert list(start.admissible_actions) == []  # the search page: free text, nothing to click
    sid = start.session_id
    page1, page2, page3, past_end, back2, to_search = await _play(
        stub,
        sid,
        [
            "search[black]",
            "click[Next >]",
            "click[Next >]",
            "click[Next >]",
            "click[< Prev]",
            "click[Back to Search]",
        ],
    )
    # 28 products mention "black" (a colour option or a word of their text): pages of 10, 10, 8.
    products = splits.read(root, SPLIT).products
    black = {p.asin for p in products if "black" in re.findall(r"\w+", product_text(p).lower())}
    assert len(black) == 28
    shown = [_shown(page1, 2), _shown(page2, 3), _shown(page3, 2)]
    assert [len(s) for s in shown] == [10, 10, 8]
    assert set(shown[0] + shown[1] + shown[2]) == black
    assert page1.admissible_actions[:2] == ["click[Back to Search]", "click[Next >]"]
    assert page2.admissible_actions[:3] == [
        "click[Back to Search]",
        "click[< Prev]",
        "click[Next >]",
    ]
    assert page3.admissible_actions[:2] == NAV
    for n, (step, asins) in enumerate(zip((page1, page2, page3), shown, strict=True), start=1):
        assert step.observation == _results_page(root, n, 28, asins)
        assert (step.reward, step.done, step.won, step.admissible) == (0.0, False, False, True)
    # No [Next >] on the last page: WebShop's invalid-action answer, the page unchanged.
    assert past_end.observation == "Invalid action! There is no [Next >] button on this page."
    assert (past_end.reward, past_end.done, past_end.admissible) == (0.0, False, False)
    assert past_end.admissible_actions == page3.admissible_actions
    assert (back2.observation, back2.admissible_actions) == (
        page2.observation,
        page2.admissible_actions,
    )
    assert to_search.observation == start.observation and list(to_search.admissible_actions) == []
    assert to_search.step_index == 6


async def test_item_options_sub_pages_and_back(shop):
    stub, root, _ = shop
    goal = _goals(root)[_task_id(root, POWER_BANK)]
    start = await _open(stub, _task_id(root, POWER_BANK))
    steps = await _play(
        stub,
        start.session_id,
        [
            f"search[{goal.name}]",
            f"click[{POWER_BANK}]",
            "click[black]",
            "click[Description]",
            "click[< Prev]",
            "click[Features]",
            "click[< Prev]",
            "click[Reviews]",
            "click[Back to Search]",
        ],
    )
    results, item, clicked, description, chosen, features, chosen2, reviews, search = steps
    # The exact title finds the target first, of 13 products sharing a word with it.
    assert results.observation.startswith(
        "[Back to Search] [SEP] Page 1 (Total results: 13) [SEP] [Next >] [SEP] [B0X1H1LEH9]"
    )
    assert (item.observation, list(item.admissible_actions)) == (
        _power_bank_page(),
        POWER_BANK_CLICKS,
    )
    # Choosing a value is answered in ReAct's words; the item page then shows it chosen.
    assert (clicked.observation, list(clicked.admissible_actions)) == (
        "You have clicked black.",
        POWER_BANK_CLICKS,
    )
    assert description.observation == (
        "[Back to Search] [SEP] [< Prev] [SEP] Zentra Led Display Power Bank, Quick Charge, One "
        "Year Warranty. Highlights: led display, quick charge and one year warranty. Questions? "
        "Our support team answers within a day."
    )
    assert features.observation == (
        "[Back to Search] [SEP] [< Prev] [SEP] Led Display: checked by hand before it ships "
        "[SEP] Quick Charge: made to the same standard in every batch [SEP] One Year Warranty: "
        "covered by our 30 day return policy"
    )
    assert reviews.observation == (
        '[Back to Search] [SEP] [< Prev] [SEP] "Solid" [SEP] 4 [SEP] Works as described for the '
        'price. [SEP] "Okay" [SEP] 3 [SEP] Fine overall, though delivery took a while.'
    )
    for sub_page in (description, features, reviews):
        assert list(sub_page.admissible_actions) == NAV
    for back in (chosen, chosen2):  # `< Prev` from a sub-page: the item, the choice kept
        assert (back.observation, list(back.admissible_actions)) == (
            _power_bank_page("black"),
            POWER_BANK_CLICKS,
        )
    assert (search.observation, list(search.admissible_actions)) == (_search_page(goal), [])
    assert [s.step_index for s in steps] == list(range(1, 10))
    assert all((s.reward, s.done, s.won, s.admissible) == (0.0, False, False, True) for s in steps)

    # `< Prev` from the item goes back to its results page; a new visit starts unchosen.
    again = await _play(
        stub,
        start.session_id,
        [f"search[{goal.name}]", f"click[{POWER_BANK}]", "click[< Prev]", f"click[{POWER_BANK}]"],
    )
    assert again[2].observation == results.observation
    assert again[3].observation == _power_bank_page()


async def test_invalid_actions_are_normal_steps(shop):
    stub, root, _ = shop
    goal = _goals(root)[_task_id(root, POWER_BANK)]
    start = await _open(stub, _task_id(root, POWER_BANK))
    sid = start.session_id
    text = "I think the first one looks right, so I will buy it"
    # On the search page the answer is the same, but the admissible list is empty ("free text
    # is accepted here"), so the service counts any action there as admissible.
    on_search = await _play(stub, sid, ["click[Buy Now]", text, "search[ ]"])
    assert [s.observation for s in on_search] == [
        "Invalid action! There is no [Buy Now] button on this page.",
        f"Invalid action! {text!r}{WHY_NOT_AN_ACTION}",
        "Invalid action! The search is empty; write search[words to look for].",
    ]
    for step in on_search:
        assert (step.reward, step.done, step.won, step.admissible) == (0.0, False, False, True)
        assert list(step.admissible_actions) == []
    (results,) = await _play(stub, sid, [f"search[{goal.name}]"])
    invalid = await _play(stub, sid, ["click[Buy Now]", "search[power bank]", text, "click[black]"])
    assert [s.observation for s in invalid] == [
        "Invalid action! There is no [Buy Now] button on this page.",
        "Invalid action! Search works on the search page only; click[Back to Search] first.",
        f"Invalid action! {text!r}{WHY_NOT_AN_ACTION}",
        "Invalid action! There is no [black] button on this page.",
    ]
    for step in invalid:  # the page is unchanged and the episode goes on
        assert (step.reward, step.done, step.won, step.admissible) == (0.0, False, False, False)
        assert step.admissible_actions == results.admissible_actions
    assert [s.step_index for s in invalid] == [5, 6, 7, 8]
    # The page still works: the target, its option, and the purchase.
    *_, bought = await _play(stub, sid, [f"click[{POWER_BANK}]", "click[black]", "click[Buy Now]"])
    assert (bought.observation, bought.reward, bought.won, bought.done) == (
        DONE.format(1.0),
        1.0,
        True,
        True,
    )
    code, details = await _code(
        stub.Step(env_pb2.StepRequest(session_id=sid, action="click[< Prev]"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == f"session {sid!r} is done (won=True); close it and create a new one"
    closed = await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=sid))
    assert (closed.steps_taken, closed.won) == (11, True)


async def test_action_limit_and_unicode(shop):
    stub, root, _ = shop
    goal = _goals(root)[_task_id(root, COFFEE)]
    start = await _open(stub, _task_id(root, COFFEE))
    sid = start.session_id
    # 512 characters is the webshop limit (EnvSpec.max_action_chars); one more is refused.
    longest = "search[" + "x" * 504 + "]"
    assert len(longest) == 512
    for action, size in ((longest[:-1] + "x]", 513), ("\U0001f6d2" * 513, 513)):
        code, details = await _code(stub.Step(env_pb2.StepRequest(session_id=sid, action=action)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details == (
            f"action is {size} characters, more than the webshop limit (512, setting "
            "env_max_action_chars)"
        )
    # Refused actions are not steps: the first accepted one is step 1.
    (nothing,) = await _play(stub, sid, [longest])
    assert nothing.step_index == 1
    assert nothing.observation == "[Back to Search] [SEP] Page 1 (Total results: 0)"
    assert list(nothing.admissible_actions) == ["click[Back to Search]"]

    # Unicode of every width (4-byte emoji: 2,000 bytes in 500 characters), a NUL, a
    # right-to-left override and zero-width joiners: answered like any other text.
    noise = "\x00\u202e\u200d\u9ed2 \u00fcn\u00efc\u00f6d\u00e9 " + "\U0001f4a5" * 480
    back, mixed, to_search = await _play(
        stub, sid, ["click[Back to Search]", f"search[black {noise}]", "click[Back to Search]"]
    )
    assert back.observation == _search_page(goal)
    # Only "black" is a word of the catalogue: the same 28 results as search[black].
    assert mixed.observation.startswith(
        "[Back to Search] [SEP] Page 1 (Total results: 28) [SEP] [Next >] [SEP] ["
    )
    assert to_search.observation == _search_page(goal)
    (plain,) = await _play(stub, sid, ["search[black]"])
    assert (mixed.observation, mixed.admissible_actions) == (
        plain.observation,
        plain.admissible_actions,
    )
    label = "\u202e" + "\U0001f4a5" * 300
    free = "\U0001d50d\U0001d522\U0001d529\U0001d529\U0001d52c \u2603 " * 40
    unknown, not_an_action = await _play(stub, sid, [f"click[{label}]", free])
    assert unknown.observation == f"Invalid action! There is no [{label[:80]}] button on this page."
    assert not_an_action.observation == f"Invalid action! {free.strip()[:80]!r}{WHY_NOT_AN_ACTION}"
    for step in (unknown, not_an_action):
        assert (step.reward, step.done, step.admissible) == (0.0, False, False)
        assert step.admissible_actions == plain.admissible_actions
    assert not_an_action.step_index == 7


# --- a wrong purchase ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "actions", "reward"),
    [
        # The target without its colour: 3 of 4 terms (2 attributes, the price; not the option).
        (POWER_BANK, ["search[zentra power bank]", f"click[{POWER_BANK}]"], 0.75),
        # Another ground coffee without "low acid": the type and price, not the attribute.
        (COFFEE, ["search[sunny acre]", "click[B0Q11TBUB0]"], 0.5),
        # A deodorant for a coffee goal: no word of the target's title, so r_type 0.
        (COFFEE, ["search[deodorant]", "click[B0SQ5WMXID]"], 0.0),
    ],
)
async def test_a_wrong_purchase_scores_below_one(shop, target, actions, reward):
    stub, root, _ = shop
    start = await _open(stub, _task_id(root, target))
    sid = start.session_id
    *browse, bought = await _play(stub, sid, [*actions, "click[Buy Now]"])
    assert all((s.reward, s.done) == (0.0, False) for s in browse)
    # The episode's reward comes with the purchase step; success is reward == 1.0 only.
    assert (bought.reward, bought.won, bought.done, bought.step_index) == (reward, False, True, 3)
    assert (bought.observation, list(bought.admissible_actions)) == (DONE.format(reward), [])
    code, details = await _code(
        stub.Step(env_pb2.StepRequest(session_id=sid, action="click[< Prev]"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "is done (won=False)" in details
    closed = await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=sid))
    assert (closed.steps_taken, closed.won) == (3, False)
    code, details = await _code(stub.Step(env_pb2.StepRequest(session_id=sid, action="click[x]")))
    assert code == grpc.StatusCode.NOT_FOUND and "does not exist or expired" in details
