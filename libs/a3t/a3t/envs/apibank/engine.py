"""API-Bank level-1 as an a3t environment (a3t.envs.base.Environment): one game per item.

    env = ApiBankEnvironment(Path("/path/to/api-bank"))  # API-Bank's release (release.py)
    task = env.list_tasks("level-1")[0]
    # TaskRecord("AddAgenda-AddAlarm-GetUserToken-level-2-1/0", "GetUserToken", "level-1", ...)
    instruction, state = env.load(task).reset()

Splits: `level-1` (all 399 items), `level-1-train` / `level-1-test` (70/30 by source dialogue,
release.py). A task is one item: task_id "<dialogue file stem>/<item id>" (the release's item
ids repeat across dialogues), task_type the API of its expected request, ref its task_id.

An episode. The instruction asks for the request and carries the item's "The current year is
..." sentence; the first observation is the item's API descriptions and dialogue (less its
closing "Generate API Request:" line), then the instruction:

    API descriptions:
    {"name": "QueryStock", ...}

    User: ...
    AI: ...
    Generate the API request the dialogue calls for. The current year is 2023.

Nothing is admissible (free text). A step is one request, `[ApiName(key='value', ...)]`, with
or without `API-Request:` (calls.py reads it with `ast`). A request that does not parse, names
an unknown API, or misses, adds or mistypes an argument is answered `Error: <what is wrong>`
with reward 0, and the episode goes on (the env service caps its steps). A request that fits
its API runs on the episode's databases and ends the episode; the observation is the request
and its result, as the dialogues show earlier requests:

    API-Request: [QueryStock(stock_code='AMZN', date='2022-03-12')]->3026.1
    API-Request: [GetUserToken(username='x', password='y')]->Error: No user named 'x'.

It wins (reward 1.0) when it agrees with the item's expected request (apis.py, the level-1
check: both run, each on its own copy of the databases, results compared with API-Bank's
leniency), else reward 0.0.

Databases. Every episode starts from its own copy of the release's databases with the
dialogue's earlier requests replayed on it (the state the dialogue is in when the item asks for
the next request: a verification code already sent, an appointment already made); a replayed
request that generates an id (RegisterUser's token, AppointmentRegistration's id) takes the id
the dialogue recorded, since later requests name it. Nothing an episode does is seen by the
next episode or by another game. The expected request runs once per game, on its own copy.
"""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path
from typing import Any

from a3t.envs.apibank import release
from a3t.envs.apibank.apis import (
    APIS,
    ApiResult,
    ArgumentError,
    Outcome,
    State,
    execute,
)
from a3t.envs.apibank.calls import CallError, parse_call, render
from a3t.envs.apibank.release import Item
from a3t.envs.base import GameState, TaskRecord
from a3t.errors import FailedPrecondition, Unimplemented

logger = logging.getLogger(__name__)

INSTRUCTION = "Generate the API request the dialogue calls for."


def instruction(item: Item) -> str:
    return f"{INSTRUCTION} {item.year}".strip()


def first_observation(item: Item) -> str:
    """The API descriptions and the dialogue, as the item gives them, then the instruction (in
    the observation, so ActRe's transcripts have the year too)."""
    descriptions = "\n".join(item.descriptions)
    return f"API descriptions:\n{descriptions}\n\n{item.dialogue}\n{instruction(item)}"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def result_observation(request: str, result: ApiResult) -> str:
    """`API-Request: <request>-><output>` (`->Error: <message>` when the API refused)."""
    shown = f"Error: {result.error}" if result.error is not None else _shown(result.output)
    return f"API-Request: {request}->{shown}"


def error_observation(problem: Exception) -> str:
    return f"Error: {problem}"


def replay(state: State, earlier: tuple[tuple[str, str], ...]) -> int:
    """Replays a dialogue's earlier requests on `state`; the number that failed (skipped)."""
    failed = 0
    for request, recorded in earlier:
        try:
            call = parse_call(request)
            result = execute(state, call.name, list(call.args))
        except (CallError, ArgumentError) as e:
            logger.debug("earlier request %s not replayed: %s", request, e)
            failed += 1
            continue
        if result.error is not None:
            failed += 1
        else:
            _adopt_recorded_id(state, result, recorded)
    return failed


def _adopt_recorded_id(state: State, result: ApiResult, recorded: str) -> None:
    """Gives a generated token or appointment id the value the dialogue recorded."""
    if result.api == "RegisterUser":
        try:
            token = ast.literal_eval(recorded.strip())["token"]
        except (ValueError, SyntaxError, TypeError, KeyError):
            return
        state.accounts[result.args["username"]]["token"] = str(token)
    elif result.api == "AppointmentRegistration" and recorded.strip().isdigit():
        record = state.appointments.pop(result.output)
        state.appointments[recorded.strip()] = record


class ApiBankGame:
    """One item, played one episode at a time (not thread-safe)."""

    def __init__(self, item: Item, start: State):
        self.item = item
        self._start = start  # the databases after the dialogue's earlier requests
        self._gold: Outcome | None = None
        self._state: State | None = None
        self._done = True
        self._started = False

    def gold(self) -> Outcome:
        """The expected request's outcome, on its own copy of the databases."""
        if self._gold is None:
            state = self._start.fresh()
            try:
                call = parse_call(self.item.gold)
                result = execute(state, call.name, list(call.args))
            except (CallError, ArgumentError) as e:
                raise FailedPrecondition(
                    f"task {self.item.task_id!r}: its expected request {self.item.gold[:80]!r} "
                    f"cannot be played ({e})"
                ) from None
            self._gold = Outcome(result, state)
        return self._gold

    def reset(self) -> tuple[str, GameState]:
        self._state = self._start.fresh()
        self._done = False
        self._started = True
        return instruction(self.item), GameState(
            first_observation(self.item), (), 0.0, False, False
        )

    def step(self, action: str) -> GameState:
        if not self._started:
            raise FailedPrecondition("no episode is running; call reset() before step()")
        if self._done or self._state is None:
            raise FailedPrecondition(
                "the episode is over (a request was made); call reset() to start a new one"
            )
        try:
            call = parse_call(action)
            result = execute(self._state, call.name, list(call.args))
        except (CallError, ArgumentError) as e:
            return GameState(error_observation(e), (), 0.0, False, False)
        self._done = True
        gold = self.gold()
        won = call.name == gold.result.api and APIS[call.name].agree(
            Outcome(result, self._state), gold
        )
        observation = result_observation(render(call), result)
        return GameState(observation, (), 1.0 if won else 0.0, True, won)


class ApiBankEnvironment:
    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)
        self._items: dict[str, Item] | None = None
        self._initial: State | None = None
        self._lock = threading.Lock()  # the env server may list tasks from several threads

    def items(self) -> dict[str, Item]:
        """Every level-1 item by task id (read once)."""
        with self._lock:
            if self._items is None:
                self._items = {i.task_id: i for i in release.read_items(self.data_root)}
            return self._items

    def list_tasks(self, split: str) -> list[TaskRecord]:
        release.check_split(split)
        items = release.split_items(list(self.items().values()), split)
        tasks = [TaskRecord(i.task_id, i.api, split, i.task_id) for i in items]
        return sorted(tasks, key=lambda t: t.task_id)

    def item(self, task: TaskRecord) -> Item:
        item = self.items().get(task.ref)
        if item is None:
            raise FailedPrecondition(
                f"task {task.task_id!r}: ref {task.ref!r} is not a level-1 item of the release "
                f"at {self.data_root}; list the split's tasks again"
            )
        return item

    def start_state(self, item: Item) -> State:
        """A copy of the databases with the item's earlier requests replayed on it."""
        with self._lock:
            if self._initial is None:
                self._initial = release.read_state(self.data_root)
                logger.info("read API-Bank's databases from %s", self.data_root)
            initial = self._initial
        state = initial.fresh()
        replay(state, item.earlier)
        return state

    def load(self, task: TaskRecord) -> ApiBankGame:
        item = self.item(task)
        game = ApiBankGame(item, self.start_state(item))
        game.gold()  # an unusable expected request fails the load, not a step
        return game

    def generate(
        self, split: str, level: int, seed: int, count: int, task_types: tuple[str, ...]
    ) -> int:
        raise Unimplemented(
            "apibank has no task generator: its tasks are the level-1 items of API-Bank's "
            f"release (splits {', '.join(release.SPLITS)})"
        )

    def warm_up(self) -> None:
        """Nothing to import: the engine is plain Python; the databases load on first use."""
