"""Our own implementations of the APIs API-Bank's level-1 dialogues call, and the level-1 check.

Every API of the 399 level-1 items (`APIS`, 49 of them) runs over a `State`: fresh copies of the
release's mutable databases (`init_database/*.json`: accounts, agenda, alarms, appointments,
health data, hotel orders, meetings, reminders, scenes, timed switches) plus read-only tables
shared by every episode (stocks, symptoms, history, documents, captions, audio transcripts,
search documents, Wikipedia pages, and the stand-ins' tables). A call returns an `ApiResult`
(the arguments as the API read them, its output, or its error); an error is a result like any
other, as in API-Bank, and is compared like one.

Arguments. Each API declares its parameters with API-Bank's type names (`str`, `int`, `bool`,
`list`, `list(str)`); `bind` checks a call against them before anything runs. API-Bank's own
requests write every value as a string (`room_count='1'`, `on='False'`,
`verification_code='970420'`, `attendees="['A', 'B']"`), so an `int` accepts an integer or a
string of digits, a `bool` True/False or 'True'/'False', a list a list literal or a string
holding one (read with `ast.literal_eval`, never eval); a `str` takes a string only.
API-Bank's timed-switch requests name the device `device_id` where the description says `name`:
both spellings are accepted for that one parameter.

The check (`agree`): API-Bank's level-1 evaluation runs the predicted call and compares its
result with the gold call's, with per-API leniency; we run both (each on its own fresh state)
and compare with ours, modelled on theirs:
- every API compares the error (both succeed, or both fail with the same message);
- arguments are compared after the normalisation the API itself applies (case of stock codes,
  user ids, symptoms, scene and device names; dates and times parsed; spaces in formulas;
  surrounding spaces);
- free-text contents (agenda and reminder contents, meeting topics) agree when their word sets
  overlap by more than half (Jaccard > 0.5, lower-cased);
- outputs are compared except where the API generates them (RegisterUser's token,
  AppointmentRegistration's id), and SearchEngine's results as a set;
- deletions (DeleteAgenda, DeleteReminder, DeleteMeeting) that both succeed agree when they
  deleted the same record (the tables after the calls are equal), whatever other arguments
  they were given: the API matches a record by content or by time.
- Some APIs ignore arguments the way API-Bank's checks do: PlayMusic, Dictionary, Wiki and
  SearchEngine compare outputs only, Translate its text and output, ForgotPassword only the
  arguments of the step its `status` names, GetToday its output.
Where we depart from API-Bank's checks on purpose: tokens are compared by the agenda, alarm,
meeting and reminder APIs (API-Bank's ignore them, so another user's token passed),
RecordHealthData compares the health data (API-Bank's check skips it), and the deletions
compare what was deleted (API-Bank's compares a `time` argument DeleteMeeting does not have).

Deterministic stand-ins for what needs the network, a model, a clock or a random generator in
the original are listed in `STAND_INS`; each function's docstring says what it does instead.
"""

from __future__ import annotations

import ast
import copy
import datetime
import hashlib
import heapq
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# APIs whose behaviour here replaces a network service, a model, a clock or randomness.
STAND_INS = (
    "Dictionary",  # online dictionary -> the definitions the release's dialogues recorded
    "Translate",  # online translator -> the translations the release's dialogues recorded
    "GetToday",  # system clock -> the fixed date 2023-03-31 of API-Bank's dialogues
    "RegisterUser",  # random token -> a token derived from the username
    "AppointmentRegistration",  # random id -> an id derived from the appointment
    "ForgotPassword",  # emailed random code -> the fixed code 970420 of API-Bank's dialogues
    "SearchEngine",  # rank_bm25 over NLTK tokens -> BM25 through bm25s, its tokenizer
)

# The code ForgotPassword "sends": API-Bank's dialogues all use this one.
VERIFICATION_CODE = 970420
TODAY = "2023-03-31"
DATETIME = "%Y-%m-%d %H:%M:%S"
DATE = "%Y-%m-%d"
NOT_ANSWERED = "The document does not answer this question."


class ApiError(Exception):
    """The API refused the call (bad value, unknown record...): an error result, not a crash."""


class ArgumentError(Exception):
    """The call does not fit the API's parameters (missing, unexpected or mistyped arguments,
    an unknown API): nothing ran."""


# --- the state an episode plays on


@dataclass
class Reference:
    """Read-only tables, loaded once and shared by every episode."""

    stocks: dict[str, dict[str, float]]
    symptoms: dict[str, list[dict[str, str]]]
    history: dict[str, list[dict[str, str]]]
    documents: dict[str, list[dict[str, str]]]
    captions: dict[str, str]
    transcripts: dict[str, str]
    search_documents: list[dict[str, str]]
    search_index: SearchIndex
    wiki: dict[str, dict[str, str]]
    dictionary: dict[str, Any]  # keyword -> meanings (stand-in)
    translations: dict[tuple[str, str], str]  # (text, target language code) -> text (stand-in)


@dataclass
class State:
    """One episode's databases. `fresh` copies the mutable tables; nothing is shared with
    another episode except the read-only `ref`."""

    accounts: dict[str, dict[str, Any]]
    agenda: dict[str, dict[str, Any]]
    alarms: dict[str, dict[str, Any]]
    appointments: dict[str, dict[str, Any]]
    balances: dict[str, dict[str, Any]]
    health: dict[str, list[dict[str, Any]]]
    hotel_orders: dict[str, dict[str, Any]]
    meetings: dict[str, dict[str, Any]]
    reminders: dict[str, dict[str, Any]]
    scenes: dict[str, list[dict[str, str]]]
    switches: dict[str, list[dict[str, Any]]]
    ref: Reference
    bank_accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    password_reset: tuple[str, int] | None = None  # (username, code) after ForgotPassword step 1

    def fresh(self) -> State:
        """A deep copy of the mutable tables over the same (shared) reference tables."""
        return copy.deepcopy(self, memo={id(self.ref): self.ref})


# --- parameters, results, agreement


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # API-Bank's type name: str, int, bool, list, list(str)
    required: bool = True
    alias: str = ""  # a second name accepted for it (API-Bank's requests use it)


@dataclass(frozen=True)
class ApiResult:
    api: str
    args: dict[str, Any]  # the arguments as the API read them (types coerced)
    output: Any  # None when the call failed
    error: str | None


@dataclass(frozen=True)
class Outcome:
    """A call's result and the state it left (what the check compares)."""

    result: ApiResult
    state: State


Agree = Callable[[Outcome, Outcome], bool]


@dataclass(frozen=True)
class Api:
    name: str
    params: tuple[Param, ...]
    run: Callable[[State, dict[str, Any]], Any]  # the output; ApiError when it refuses
    agree: Agree  # does a predicted outcome match the gold one (the level-1 check)


def _same(value: Any) -> Any:
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _no_spaces(value: Any) -> Any:
    return re.sub(r"\s+", "", value) if isinstance(value, str) else value


def _canonical(fmt: str) -> Callable[[Any], Any]:
    def canon(value: Any) -> Any:
        try:
            return _parse_time(value, fmt, "value")
        except ApiError:
            return value

    return canon


def _sorted_names(value: Any) -> Any:
    return sorted(str(v).strip() for v in value) if isinstance(value, list) else value


def _health_pairs(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return sorted(
        (str(d.get("name", "")).strip(), str(d.get("value", "")).strip())
        if isinstance(d, dict)
        else ("", str(d))
        for d in value
    )


def _month_day(value: Any) -> Any:
    try:
        return _month_day_of(value)
    except ApiError:
        return value


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the lower-cased word sets of two texts (1.0 for two empty texts)."""
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def check(
    exact: Mapping[str, Callable[[Any], Any]] | None = None,
    words: tuple[str, ...] = (),
    output: bool = True,
    deleted_from: str = "",
) -> Agree:
    """An agreement rule: the errors are equal; each `exact` argument is equal after its
    normalisation; each `words` argument overlaps the gold's by more than half; the outputs are
    equal (unless `output` is False); with `deleted_from`, two successful calls agree when the
    named table is equal after them (they deleted the same record)."""
    exact = exact or {}

    def agree(pred: Outcome, gold: Outcome) -> bool:
        p, g = pred.result, gold.result
        if p.error != g.error:
            return False
        if any(norm(p.args.get(k)) != norm(g.args.get(k)) for k, norm in exact.items()):
            return False
        if any(word_overlap(p.args.get(k, ""), g.args.get(k, "")) <= 0.5 for k in words):
            return False
        if deleted_from and p.error is None:
            return getattr(pred.state, deleted_from) == getattr(gold.state, deleted_from)
        return not output or p.output == g.output

    return agree


# --- argument binding


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise TypeError


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("True", "False"):
        return value == "True"
    raise TypeError


def _list(value: Any, of_str: bool) -> list[Any]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
            raise TypeError from e
    if not isinstance(value, list):
        raise TypeError
    if of_str and not all(isinstance(v, str) for v in value):
        raise TypeError
    return value


_TYPE_HELP = {
    "str": "a string ('...')",
    "int": "an integer (or a string of digits)",
    "bool": "True or False",
    "list": "a list ([...])",
    "list(str)": "a list of strings (['...', ...])",
}


def _coerce(api: str, param: Param, value: Any) -> Any:
    try:
        if param.type == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if param.type == "int":
            return _int(value)
        if param.type == "bool":
            return _bool(value)
        return _list(value, of_str=param.type == "list(str)")
    except TypeError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ArgumentError(
            f"argument {param.name!r} of {api} must be {_TYPE_HELP[param.type]}, got {shown}"
        ) from None


def signature(api: Api) -> str:
    """`Name(a, b, [c])`: the parameters, optional ones in brackets."""
    names = [p.name if p.required else f"[{p.name}]" for p in api.params]
    return f"{api.name}({', '.join(names)})"


def bind(name: str, args: list[tuple[str, Any]]) -> tuple[Api, dict[str, Any]]:
    """The API and its arguments, checked and coerced; ArgumentError naming the problem."""
    api = APIS.get(name)
    if api is None:
        close = [n for n in APIS if n.lower() == name.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ArgumentError(f"unknown API {name!r}{hint}; use one of the APIs described above")
    by_name = {p.name: p for p in api.params} | {p.alias: p for p in api.params if p.alias}
    bound: dict[str, Any] = {}
    for key, value in args:
        param = by_name.get(key)
        if param is None:
            raise ArgumentError(
                f"unexpected argument {key!r} for {name}; it takes {signature(api)}"
            )
        if param.name in bound:
            raise ArgumentError(f"argument {param.name!r} of {name} is given twice")
        bound[param.name] = _coerce(name, param, value)
    missing = [p.name for p in api.params if p.required and p.name not in bound]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ArgumentError(
            f"missing argument{plural} {listed} for {name}; it takes {signature(api)}"
        )
    return api, bound


def execute(state: State, name: str, args: list[tuple[str, Any]]) -> ApiResult:
    """Binds and runs one call on `state` (which it may change). ArgumentError when the call
    does not fit the API; an ApiResult with `error` when the API refused it."""
    api, bound = bind(name, args)
    try:
        output = api.run(state, dict(bound))
    except ApiError as e:
        return ApiResult(name, bound, None, str(e))
    return ApiResult(name, bound, output, None)


# --- helpers shared by the APIs


def _parse_time(value: str, fmt: str, what: str) -> str:
    """`value` in `fmt`, canonical (a year written with fewer than 4 digits is padded, as
    API-Bank does); ApiError naming `what` otherwise."""
    text = value.strip()
    parts = text.split("-")
    if len(parts) == 3 and len(parts[0]) < 4:
        text = "-".join([parts[0].zfill(4), *parts[1:]])
    try:
        return datetime.datetime.strptime(text, fmt).strftime(fmt)
    except ValueError:
        shape = "YYYY-MM-DD HH:MM:SS" if fmt == DATETIME else "YYYY-MM-DD"
        raise ApiError(f"{what} {value!r} is not of the form {shape}") from None


def _month_day_of(value: str) -> str:
    text = value.strip()
    for fmt in (DATE, "%m-%d"):
        try:
            parsed = datetime.datetime.strptime(text if fmt == DATE else f"2000-{text}", DATE)
        except ValueError:
            continue
        return parsed.strftime("%m-%d")
    raise ApiError(f"date {value!r} is not of the form MM-DD (or YYYY-MM-DD)")


def _user(state: State, token: str) -> str:
    for username, account in state.accounts.items():
        if account["token"] == token.strip():
            return username
    raise ApiError("The token is invalid.")


def _not_empty(value: str, what: str) -> str:
    if not value.strip():
        raise ApiError(f"{what} cannot be empty.")
    return value.strip()


def _next_id(table: dict[str, Any]) -> str:
    numbers = [int(k) for k in table if k.isdigit()]
    return str(max(numbers, default=0) + 1)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --- accounts


def get_user_token(s: State, a: dict[str, Any]) -> Any:
    account = s.accounts.get(a["username"])
    if account is None:
        raise ApiError(f"No user named {a['username']!r}.")
    if account["password"] != a["password"]:
        raise ApiError("The password is incorrect.")
    return {"token": account["token"]}


def register_user(s: State, a: dict[str, Any]) -> Any:
    """Stand-in: the new token is derived from the username (API-Bank draws a random one)."""
    username = a["username"]
    if username in s.accounts:
        raise ApiError(f"The username {username!r} is taken.")
    token = _digest("token", username)[:18]
    s.accounts[username] = {"password": a["password"], "token": token, "email": a["email"]}
    return {"token": token}


def delete_account(s: State, a: dict[str, Any]) -> Any:
    del s.accounts[_user(s, a["token"])]
    return {"status": "success"}


def modify_password(s: State, a: dict[str, Any]) -> Any:
    account = s.accounts[_user(s, a["token"])]
    if account["password"] != a["old_password"]:
        raise ApiError("The old password is incorrect.")
    account["password"] = a["new_password"]
    return {"status": "success"}


def forgot_password(s: State, a: dict[str, Any]) -> Any:
    """Stand-in: step 1 "sends" the fixed code 970420 (API-Bank's dialogues use it) and
    remembers the user; step 2 sets the new password when the code matches."""
    status = a["status"].strip()
    if status == "Forgot Password":
        if "username" not in a or "email" not in a:
            raise ApiError("The 'Forgot Password' step needs username and email.")
        account = s.accounts.get(a["username"])
        if account is None:
            raise ApiError(f"No user named {a['username']!r}.")
        if account["email"] != a["email"]:
            raise ApiError("The email does not match the account.")
        s.password_reset = (a["username"], VERIFICATION_CODE)
        return VERIFICATION_CODE
    if status == "Verification Code":
        if s.password_reset is None:
            raise ApiError("Call ForgotPassword with status 'Forgot Password' first.")
        if "verification_code" not in a or "new_password" not in a:
            raise ApiError("The 'Verification Code' step needs verification_code and new_password.")
        username, code = s.password_reset
        if a["verification_code"] != code:
            raise ApiError("The verification code is incorrect.")
        s.accounts[username]["password"] = a["new_password"]
        return "success"
    raise ApiError("status must be 'Forgot Password' or 'Verification Code'.")


def _agree_forgot_password(pred: Outcome, gold: Outcome) -> bool:
    p, g = pred.result, gold.result
    if (
        p.error != g.error
        or p.output != g.output
        or _strip(p.args["status"]) != _strip(g.args["status"])
    ):
        return False
    step = (
        ("username", "email")
        if _strip(g.args["status"]) == "Forgot Password"
        else (
            "verification_code",
            "new_password",
        )
    )
    return all(p.args.get(k) == g.args.get(k) for k in step)


def open_bank_account(s: State, a: dict[str, Any]) -> Any:
    if a["account"] in s.bank_accounts:
        raise ApiError(f"The account {a['account']!r} already exists.")
    s.bank_accounts[a["account"]] = {"password": a["password"], "name": a["name"]}
    return "success"


def query_balance(s: State, a: dict[str, Any]) -> Any:
    username = _user(s, a["token"])
    if username not in s.balances:
        raise ApiError(f"{username} has no bank account.")
    return s.balances[username]["balance"]


# --- agenda, alarms, reminders, meetings


def _find(table: dict[str, dict[str, Any]], username: str, **match: str) -> str | None:
    """The first record of `username` with any of the `match` fields equal."""
    for key, record in table.items():
        if record["username"] == username and any(
            value and record.get(f) == value for f, value in match.items()
        ):
            return key
    return None


def _optional_time(value: str, what: str) -> str:
    return _parse_time(value, DATETIME, what) if value.strip() else ""


def add_agenda(s: State, a: dict[str, Any]) -> Any:
    time = _parse_time(a["time"], DATETIME, "time")
    content = _not_empty(a["content"], "The content")
    s.agenda[_next_id(s.agenda)] = {
        "content": content,
        "time": time,
        "location": a["location"],
        "username": _user(s, a["token"]),
    }
    return "success"


def _agenda_item(s: State, a: dict[str, Any]) -> tuple[str, str]:
    time = _optional_time(a["time"], "time")
    username = _user(s, a["token"])
    key = _find(s.agenda, username, content=a["content"].strip(), time=time)
    if key is None:
        raise ApiError(f"No agenda item about {a['content']!r} or at {a['time']!r}.")
    return key, username


def delete_agenda(s: State, a: dict[str, Any]) -> Any:
    key, _ = _agenda_item(s, a)
    del s.agenda[key]
    return "success"


def modify_agenda(s: State, a: dict[str, Any]) -> Any:
    key, username = _agenda_item(s, a)
    s.agenda[key] = {
        "content": a["content"].strip(),
        "time": _optional_time(a["time"], "time"),
        "location": a["location"],
        "username": username,
    }
    return "success"


def query_agenda(s: State, a: dict[str, Any]) -> Any:
    key, _ = _agenda_item(s, a)
    return dict(s.agenda[key])


def add_alarm(s: State, a: dict[str, Any]) -> Any:
    time = _parse_time(a["time"], DATETIME, "time")
    s.alarms[_next_id(s.alarms)] = {"time": time, "username": _user(s, a["token"])}
    return "success"


def _alarm(s: State, token: str, time: str) -> str:
    key = _find(s.alarms, _user(s, token), time=time)
    if key is None:
        raise ApiError(f"No alarm at {time}.")
    return key


def delete_alarm(s: State, a: dict[str, Any]) -> Any:
    del s.alarms[_alarm(s, a["token"], _parse_time(a["time"], DATETIME, "time"))]
    return "success"


def modify_alarm(s: State, a: dict[str, Any]) -> Any:
    from_time = _parse_time(a["from_time"], DATETIME, "from_time")
    to_time = _parse_time(a["to_time"], DATETIME, "to_time")
    s.alarms[_alarm(s, a["token"], from_time)]["time"] = to_time
    return "success"


def query_alarm(s: State, a: dict[str, Any]) -> Any:
    return dict(s.alarms[_alarm(s, a["token"], _parse_time(a["time"], DATETIME, "time"))])


def add_reminder(s: State, a: dict[str, Any]) -> Any:
    time = _parse_time(a["time"], DATETIME, "time")
    content = _not_empty(a["content"], "The content")
    s.reminders[_next_id(s.reminders)] = {
        "content": content,
        "time": time,
        "username": _user(s, a["token"]),
    }
    return "success"


def _reminder(s: State, a: dict[str, Any]) -> str:
    time = _parse_time(a["time"], DATETIME, "time")
    content = _not_empty(a["content"], "The content")
    key = _find(s.reminders, _user(s, a["token"]), content=content, time=time)
    if key is None:
        raise ApiError(f"No reminder about {content!r} or at {time}.")
    return key


def delete_reminder(s: State, a: dict[str, Any]) -> Any:
    del s.reminders[_reminder(s, a)]
    return "success"


def modify_reminder(s: State, a: dict[str, Any]) -> Any:
    record = s.reminders[_reminder(s, a)]
    record["content"] = a["content"].strip()
    record["time"] = _parse_time(a["time"], DATETIME, "time")
    return "success"


def query_reminder(s: State, a: dict[str, Any]) -> Any:
    return dict(s.reminders[_reminder(s, a)])


def add_meeting(s: State, a: dict[str, Any]) -> Any:
    start = _parse_time(a["start_time"], DATETIME, "start_time")
    end = _parse_time(a["end_time"], DATETIME, "end_time")
    topic = _not_empty(a["meeting_topic"], "The meeting topic")
    s.meetings[_next_id(s.meetings)] = {
        "meeting_topic": topic,
        "start_time": start,
        "end_time": end,
        "location": a["location"],
        "attendees": list(a["attendees"]),
        "username": _user(s, a["token"]),
    }
    return "success"


def _meeting(s: State, a: dict[str, Any]) -> str:
    start = _optional_time(a["start_time"], "start_time")
    _optional_time(a["end_time"], "end_time")
    topic = a["meeting_topic"].strip()
    if not topic and not start:
        raise ApiError("Give the meeting topic or its start time.")
    key = _find(s.meetings, _user(s, a["token"]), meeting_topic=topic, start_time=start)
    if key is None:
        raise ApiError(f"No meeting about {topic!r} or starting at {a['start_time']!r}.")
    return key


def delete_meeting(s: State, a: dict[str, Any]) -> Any:
    del s.meetings[_meeting(s, a)]
    return "success"


def modify_meeting(s: State, a: dict[str, Any]) -> Any:
    record = s.meetings[_meeting(s, a)]
    if a["meeting_topic"].strip():
        record["meeting_topic"] = a["meeting_topic"].strip()
    if a["start_time"].strip():
        record["start_time"] = _optional_time(a["start_time"], "start_time")
        record["end_time"] = _optional_time(a["end_time"], "end_time")
    record["location"] = a["location"]
    record["attendees"] = list(a["attendees"])
    return "success"


def query_meeting(s: State, a: dict[str, Any]) -> Any:
    return dict(s.meetings[_meeting(s, a)])


# --- hospital and health


def _date(value: str, what: str = "date") -> str:
    return _parse_time(value, DATE, what)


def appointment_registration(s: State, a: dict[str, Any]) -> Any:
    """Stand-in: the new appointment id is derived from the appointment (API-Bank draws a
    random 8-digit id)."""
    patient = _not_empty(a["patient_name"], "The patient name")
    doctor = _not_empty(a["doctor_name"], "The doctor name")
    date = _date(a["date"])
    for record in s.appointments.values():
        if record["patient_name"] == patient and record["date"] == date:
            if record["doctor_name"] == doctor:
                raise ApiError("This appointment is already registered.")
            raise ApiError(f"{patient} already has an appointment on {date}.")
    number = int(_digest("appointment", patient, date, doctor), 16) % 90_000_000 + 10_000_000
    while str(number) in s.appointments:
        number = number + 1 if number < 99_999_999 else 10_000_000
    s.appointments[str(number)] = {"patient_name": patient, "date": date, "doctor_name": doctor}
    return str(number)


def cancel_registration(s: State, a: dict[str, Any]) -> Any:
    if s.appointments.pop(a["appointment_id"].strip(), None) is None:
        raise ApiError(f"No appointment with id {a['appointment_id']!r}.")
    return "success"


def modify_registration(s: State, a: dict[str, Any]) -> Any:
    record = s.appointments.get(a["appointment_id"].strip())
    if record is None:
        raise ApiError(f"No appointment with id {a['appointment_id']!r}.")
    date = (
        _date(a["new_appointment_date"], "new_appointment_date")
        if (a.get("new_appointment_date") is not None)
        else None
    )
    doctor = a.get("new_appointment_doctor")
    if doctor is not None:
        doctor = _not_empty(doctor, "The new doctor name")
    if date is None and doctor is None:
        raise ApiError("Nothing to modify: give a new date or a new doctor.")
    if date is not None and date == record["date"]:
        raise ApiError(f"The appointment is already on {date}.")
    if doctor is not None and doctor == record["doctor_name"]:
        raise ApiError(f"The appointment is already with {doctor}.")
    if date is not None:
        record["date"] = date
    if doctor is not None:
        record["doctor_name"] = doctor
    return "success"


def query_registration(s: State, a: dict[str, Any]) -> Any:
    patient, date = a["patient_name"].strip(), _date(a["date"])
    found = {
        key: dict(record)
        for key, record in s.appointments.items()
        if record["patient_name"] == patient and record["date"] == date
    }
    if not found:
        raise ApiError(f"No appointments of {patient} on {date}.")
    return found


def query_health_data(s: State, a: dict[str, Any]) -> Any:
    user = _not_empty(a["user_id"], "The user id").upper()
    start = _parse_time(a["start_time"], DATETIME, "start_time")
    end = _parse_time(a["end_time"], DATETIME, "end_time")
    if start > end:
        raise ApiError("start_time is after end_time.")
    if user not in s.health:
        raise ApiError(f"No health data for user {user}.")
    found = [dict(r) for r in s.health[user] if start <= r["time"] <= end]
    if not found:
        raise ApiError(f"No health data of {user} between {start} and {end}.")
    return found


def record_health_data(s: State, a: dict[str, Any]) -> Any:
    user = _not_empty(a["user_id"], "The user id").upper()
    time = _parse_time(a["time"], DATETIME, "time")
    items = a["health_data"]
    if not items:
        raise ApiError("The health data cannot be empty.")
    names = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise ApiError("Each health data item needs a 'name' and a 'value'.")
        names.append(item["name"])
    if len(set(map(str, names))) != len(names):
        raise ApiError("The health data names a measurement twice.")
    records = s.health.setdefault(user, [])
    record = next((r for r in records if r["time"] == time), None)
    if record is None:
        record = {"time": time}
        records.append(record)
    for item in items:
        record[str(item["name"])] = item["value"]
    return "success"


def _symptom(s: State, symptom: str) -> list[dict[str, str]]:
    key = _not_empty(symptom, "The symptom").lower()
    if key not in s.ref.symptoms:
        raise ApiError(f"Unknown symptom {symptom!r}.")
    return s.ref.symptoms[key]


def emergency_knowledge(s: State, a: dict[str, Any]) -> Any:
    return [{"name": d["name"], "aid": d["aid"]} for d in _symptom(s, a["symptom"])]


def symptom_search(s: State, a: dict[str, Any]) -> Any:
    return [{"name": d["name"], "description": d["description"]} for d in _symptom(s, a["symptom"])]


# --- finance, history, hotels, smart home


def query_stock(s: State, a: dict[str, Any]) -> Any:
    code = _not_empty(a["stock_code"], "The stock code").upper()
    date = _date(a["date"])
    if code not in s.ref.stocks:
        raise ApiError(f"Unknown stock code {code}.")
    if date not in s.ref.stocks[code]:
        raise ApiError(f"No price of {code} on {date}.")
    return s.ref.stocks[code][date]


def query_history_today(s: State, a: dict[str, Any]) -> Any:
    day = _month_day_of(a["date"])
    if day not in s.ref.history:
        raise ApiError(f"No history recorded for {day}.")
    return [
        f"Title: {e['Title'].strip()}, Date: {e['Date'].strip()}, "
        f"Description: {e['Description'].strip()}"
        for e in s.ref.history[day]
    ]


def book_hotel(s: State, a: dict[str, Any]) -> Any:
    check_in = _date(a["check_in_time"], "check_in_time")
    check_out = _date(a["check_out_time"], "check_out_time")
    if check_out <= check_in:
        raise ApiError("check_out_time must be after check_in_time.")
    if a["adult_count"] > 2 and a["room_count"] < 2:
        raise ApiError("More than 2 adults need at least two rooms.")
    for order in s.hotel_orders.values():
        if (
            order["hotel_name"] == a["hotel_name"]
            and check_in < order["check_out_time"]
            and order["check_in_time"] < check_out
        ):
            raise ApiError(f"{a['hotel_name']} has no room free from {check_in} to {check_out}.")
    order_id = _next_id(s.hotel_orders)
    s.hotel_orders[order_id] = {
        "hotel_name": a["hotel_name"],
        "check_in_time": check_in,
        "check_out_time": check_out,
        "room_count": a["room_count"],
        "adult_count": a["adult_count"],
        "child_count": a["child_count"],
    }
    return order_id


def query_scene(s: State, a: dict[str, Any]) -> Any:
    name = _not_empty(a["name"], "The scene name").lower()
    if name not in s.scenes:
        raise ApiError(f"No scene named {a['name']!r}.")
    return [dict(d) for d in s.scenes[name]]


def delete_scene(s: State, a: dict[str, Any]) -> Any:
    name = _not_empty(a["name"], "The scene name").lower()
    if s.scenes.pop(name, None) is None:
        raise ApiError(f"No scene named {a['name']!r}.")
    return "success"


def _device(s: State, name: str) -> str | None:
    wanted = name.strip().lower()
    return next((d for d in s.switches if d.lower() == wanted), None)


def timed_switch(s: State, a: dict[str, Any]) -> Any:
    name = _not_empty(a["name"], "The device name")
    time = _parse_time(a["time"], DATETIME, "time")
    schedule = s.switches.setdefault(_device(s, name) or name.lower(), [])
    entry = next((e for e in schedule if e["time"] == time), None)
    if entry is None:
        schedule.append({"time": time, "on": a["on"]})
    else:
        entry["on"] = a["on"]
    return "success"


def cancel_timed_switch(s: State, a: dict[str, Any]) -> Any:
    name = _not_empty(a["name"], "The device name")
    time = _parse_time(a["time"], DATETIME, "time")
    device = _device(s, name)
    if device is None:
        raise ApiError(f"No device named {name!r}.")
    schedule = s.switches[device]
    entry = next((e for e in schedule if e["time"] == time), None)
    if entry is None:
        raise ApiError(f"{name} has no timed switch at {time}.")
    schedule.remove(entry)
    return "success"


# --- documents, media, search, language


def document_qa(s: State, a: dict[str, Any]) -> Any:
    url = a["url"].strip()
    question = _not_empty(a["question"], "The question")
    if url not in s.ref.documents:
        raise ApiError(f"The document at {url!r} cannot be read.")
    answer = next((d["answer"] for d in s.ref.documents[url] if d["question"] == question), None)
    return NOT_ANSWERED if answer is None else answer


def image_caption(s: State, a: dict[str, Any]) -> Any:
    url = a["url"].strip()
    if not url.endswith((".jpg", ".jpeg", ".png")):
        raise ApiError("The image url must end with .jpg, .jpeg or .png.")
    if url not in s.ref.captions:
        raise ApiError(f"The image at {url!r} cannot be read.")
    return s.ref.captions[url]


def speech_recognition(s: State, a: dict[str, Any]) -> Any:
    url = a["url"].strip()
    if not url.endswith(".wav"):
        raise ApiError("The audio url must end with .wav.")
    if url not in s.ref.transcripts:
        raise ApiError(f"The audio at {url!r} cannot be read.")
    return s.ref.transcripts[url]


def _search_tokens(texts: list[str]) -> list[list[str]]:
    """bm25s's tokens, for documents and queries alike: lower-cased words of two or more
    characters (punctuation and one-character words dropped), stopwords kept."""
    import bm25s

    return bm25s.tokenize(texts, stopwords=None, return_ids=False, show_progress=False)


class SearchIndex:
    """BM25 over fixed documents, through bm25s (its default scoring, Lucene's BM25: k1 1.5,
    b 0.75, idf log(1 + (N - n + 0.5) / (n + 0.5))), tokens by `_search_tokens`."""

    def __init__(self, documents: Sequence[str]):
        import bm25s

        self._bm25 = bm25s.BM25()
        self._size = len(documents)
        if self._size:
            self._bm25.index(_search_tokens(list(documents)), show_progress=False)

    def best(self, query: str, k: int) -> list[int]:
        """Indices of the at most `k` best documents, best first (ties: the earlier document);
        only documents with a positive score, so none when no document shares a token."""
        if not self._size:
            return []
        vocab = self._bm25.vocab_dict
        tokens = [t for t in _search_tokens([query])[0] if t and t in vocab]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens).tolist()
        return [i for _, i in heapq.nsmallest(k, ((-s, i) for i, s in enumerate(scores) if s > 0))]


def search_engine(s: State, a: dict[str, Any]) -> Any:
    """Stand-in for API-Bank's BM25 search (rank_bm25 over NLTK tokens): BM25 through bm25s
    (`SearchIndex`, tokens: bm25s.tokenize's lower-cased words of two or more characters,
    stopwords kept) over each document's title and abstract; the two best documents of the
    release's search database, best first (ties: the earlier document), fewer when fewer
    documents share a token with the keyword."""
    keyword = _not_empty(a["keyword"], "The keyword")
    return [dict(s.ref.search_documents[i]) for i in s.ref.search_index.best(keyword, 2)]


def _agree_search(pred: Outcome, gold: Outcome) -> bool:
    def key(output: Any) -> Any:
        return sorted(map(repr, output)) if isinstance(output, list) else output

    p, g = pred.result, gold.result
    return p.error == g.error and key(p.output) == key(g.output)


def wiki(s: State, a: dict[str, Any]) -> Any:
    keyword = _not_empty(a["keyword"].replace("_", " "), "The keyword").lower()
    if keyword not in s.ref.wiki:
        raise ApiError(f"No Wikipedia page for {a['keyword']!r}.")
    page = s.ref.wiki[keyword]
    return {"url": page["url"], "summary": page["summary"]}


def dictionary(s: State, a: dict[str, Any]) -> Any:
    """Stand-in for an online dictionary: the meanings the release's dialogues recorded for a
    keyword (lower-cased, '_' read as a space); any other keyword is not found."""
    keyword = _not_empty(a["keyword"].replace("_", " "), "The keyword").lower()
    if keyword not in s.ref.dictionary:
        raise ApiError(f"{a['keyword']!r} is not in the (offline) dictionary.")
    return copy.deepcopy(s.ref.dictionary[keyword])


# Language codes and names the translator accepts (names lower-cased).
LANGUAGES = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "hi": "hindi",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "zh-cn": "chinese",
    "zh-tw": "traditional chinese",
}


def language_code(value: str) -> str:
    """A language code from a code or an English name; ApiError when not supported."""
    text = value.strip().lower()
    if text in LANGUAGES:
        return text
    for code, name in sorted(LANGUAGES.items(), key=lambda kv: -len(kv[1])):
        if name in text:
            return code
    raise ApiError(f"Language {value!r} is not supported.")


def translate(s: State, a: dict[str, Any]) -> Any:
    """Stand-in for an online translator: the translations the release's dialogues recorded,
    by text and target language (default English); the source language is checked, not used.
    Any other text or language has no offline translation."""
    if "src_lang" in a:
        language_code(a["src_lang"])
    target = language_code(a.get("tgt_lang", "en"))
    text = _not_empty(a["src"], "The text")
    translated = s.ref.translations.get((text, target))
    if translated is None:
        raise ApiError(f"No offline translation of {text!r} into {target}.")
    return translated


def get_today(s: State, a: dict[str, Any]) -> Any:
    """Stand-in for the clock: always 2023-03-31, the date of API-Bank's dialogues."""
    return TODAY


def calculator(s: State, a: dict[str, Any]) -> Any:
    """+, -, *, / and parentheses over integers, in floats; read with `ast`, never eval."""
    formula = a["formula"].strip()
    if not formula or set(formula) - set("0123456789+-*/() "):
        raise ApiError(f"Invalid formula {a['formula']!r}: only integers, + - * / and ( ).")
    try:
        tree = ast.parse(formula, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ApiError(f"Invalid formula {a['formula']!r}.") from None
    return _arithmetic(tree, a["formula"])


def _arithmetic(node: ast.AST, formula: str) -> float:
    ops: dict[type, Callable[[float, float], float]] = {
        ast.Add: lambda x, y: x + y,
        ast.Sub: lambda x, y: x - y,
        ast.Mult: lambda x, y: x * y,
        ast.Div: lambda x, y: x / y,
    }
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value < 10**15:
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _arithmetic(node.operand, formula)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        left, right = _arithmetic(node.left, formula), _arithmetic(node.right, formula)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ApiError(f"Division by zero in {formula!r}.")
        return ops[type(node.op)](left, right)
    raise ApiError(f"Invalid formula {formula!r}.")


def play_music(s: State, a: dict[str, Any]) -> Any:
    return f"music://{_not_empty(a['music_name'], 'The music name').lower()}"


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def send_email(s: State, a: dict[str, Any]) -> Any:
    if not _EMAIL.fullmatch(a["receiver"].strip()):
        raise ApiError(f"{a['receiver']!r} is not an email address.")
    _not_empty(a["subject"], "The subject")
    _not_empty(a["content"], "The content")
    return "success"


# --- the table


def _p(*names: str, type: str = "str") -> tuple[Param, ...]:
    return tuple(Param(n, type) for n in names)


_TOKEN = {"token": _strip}
_AT = {"time": _canonical(DATETIME)}
_MEETING = (
    *_p("token", "meeting_topic", "start_time", "end_time", "location"),
    Param("attendees", "list(str)"),
)
_MEETING_ARGS = _TOKEN | {
    "start_time": _canonical(DATETIME),
    "end_time": _canonical(DATETIME),
    "location": _same,
    "attendees": _sorted_names,
}
_AGENDA_ARGS = _TOKEN | _AT | {"location": _same}

APIS: dict[str, Api] = {
    a.name: a
    for a in (
        Api(
            "GetUserToken",
            _p("username", "password"),
            get_user_token,
            check({"username": _same, "password": _same}),
        ),
        Api(
            "RegisterUser",
            _p("username", "password", "email"),
            register_user,
            check({"username": _same, "password": _same, "email": _same}, output=False),
        ),
        Api("DeleteAccount", _p("token"), delete_account, check(_TOKEN)),
        Api(
            "ModifyPassword",
            _p("token", "old_password", "new_password"),
            modify_password,
            check(_TOKEN | {"old_password": _same, "new_password": _same}),
        ),
        Api(
            "ForgotPassword",
            (
                Param("status", "str"),
                Param("username", "str", required=False),
                Param("email", "str", required=False),
                Param("verification_code", "int", required=False),
                Param("new_password", "str", required=False),
            ),
            forgot_password,
            _agree_forgot_password,
        ),
        Api(
            "OpenBankAccount",
            _p("account", "password", "name"),
            open_bank_account,
            check({"account": _same, "password": _same, "name": _same}),
        ),
        Api("QueryBalance", _p("token"), query_balance, check(_TOKEN)),
        Api(
            "AddAgenda",
            _p("token", "content", "time", "location"),
            add_agenda,
            check(_AGENDA_ARGS, words=("content",)),
        ),
        Api(
            "DeleteAgenda",
            _p("token", "content", "time", "location"),
            delete_agenda,
            check(_TOKEN, deleted_from="agenda"),
        ),
        Api(
            "ModifyAgenda",
            _p("token", "content", "time", "location"),
            modify_agenda,
            check(_AGENDA_ARGS, words=("content",)),
        ),
        Api(
            "QueryAgenda",
            _p("token", "content", "time", "location"),
            query_agenda,
            check(_AGENDA_ARGS, words=("content",)),
        ),
        Api("AddAlarm", _p("token", "time"), add_alarm, check(_TOKEN | _AT)),
        Api("DeleteAlarm", _p("token", "time"), delete_alarm, check(_TOKEN | _AT)),
        Api(
            "ModifyAlarm",
            _p("token", "from_time", "to_time"),
            modify_alarm,
            check(_TOKEN | {"from_time": _canonical(DATETIME), "to_time": _canonical(DATETIME)}),
        ),
        Api("QueryAlarm", _p("token", "time"), query_alarm, check(_TOKEN | _AT)),
        Api(
            "AddReminder",
            _p("token", "content", "time"),
            add_reminder,
            check(_TOKEN | _AT, words=("content",)),
        ),
        Api(
            "DeleteReminder",
            _p("token", "content", "time"),
            delete_reminder,
            check(_TOKEN, deleted_from="reminders"),
        ),
        Api(
            "ModifyReminder",
            _p("token", "content", "time"),
            modify_reminder,
            check(_TOKEN | _AT, words=("content",)),
        ),
        Api(
            "QueryReminder",
            _p("token", "content", "time"),
            query_reminder,
            check(_TOKEN | _AT, words=("content",)),
        ),
        Api("AddMeeting", _MEETING, add_meeting, check(_MEETING_ARGS, words=("meeting_topic",))),
        Api("DeleteMeeting", _MEETING, delete_meeting, check(_TOKEN, deleted_from="meetings")),
        Api(
            "ModifyMeeting",
            _MEETING,
            modify_meeting,
            check(_MEETING_ARGS, words=("meeting_topic",)),
        ),
        Api(
            "QueryMeeting", _MEETING, query_meeting, check(_MEETING_ARGS, words=("meeting_topic",))
        ),
        Api(
            "AppointmentRegistration",
            _p("patient_name", "date", "doctor_name"),
            appointment_registration,
            check(
                {"patient_name": _strip, "date": _canonical(DATE), "doctor_name": _strip},
                output=False,
            ),
        ),
        Api(
            "CancelRegistration",
            _p("appointment_id"),
            cancel_registration,
            check({"appointment_id": _strip}),
        ),
        Api(
            "ModifyRegistration",
            (
                Param("appointment_id", "str"),
                Param("new_appointment_date", "str", required=False),
                Param("new_appointment_doctor", "str", required=False),
            ),
            modify_registration,
            check(
                {
                    "appointment_id": _strip,
                    "new_appointment_date": _canonical(DATE),
                    "new_appointment_doctor": _strip,
                }
            ),
        ),
        Api(
            "QueryRegistration",
            _p("patient_name", "date"),
            query_registration,
            check({"patient_name": _strip, "date": _canonical(DATE)}),
        ),
        Api(
            "QueryHealthData",
            _p("user_id", "start_time", "end_time"),
            query_health_data,
            check(
                {
                    "user_id": _upper,
                    "start_time": _canonical(DATETIME),
                    "end_time": _canonical(DATETIME),
                }
            ),
        ),
        Api(
            "RecordHealthData",
            (*_p("user_id", "time"), Param("health_data", "list")),
            record_health_data,
            check({"user_id": _upper, "health_data": _health_pairs} | _AT),
        ),
        Api(
            "EmergencyKnowledge",
            _p("symptom"),
            emergency_knowledge,
            check({"symptom": _lower}),
        ),
        Api("SymptomSearch", _p("symptom"), symptom_search, check({"symptom": _lower})),
        Api(
            "QueryStock",
            _p("stock_code", "date"),
            query_stock,
            check({"stock_code": _upper, "date": _canonical(DATE)}),
        ),
        Api(
            "QueryHistoryToday",
            _p("date"),
            query_history_today,
            check({"date": _month_day}),
        ),
        Api(
            "BookHotel",
            (
                *_p("hotel_name", "check_in_time", "check_out_time"),
                *_p("room_count", "adult_count", "child_count", type="int"),
            ),
            book_hotel,
            check(
                {
                    "hotel_name": _strip,
                    "check_in_time": _canonical(DATE),
                    "check_out_time": _canonical(DATE),
                    "room_count": _same,
                    "adult_count": _same,
                    "child_count": _same,
                }
            ),
        ),
        Api("QueryScene", _p("name"), query_scene, check({"name": _lower})),
        Api("DeleteScene", _p("name"), delete_scene, check({"name": _lower})),
        Api(
            "TimedSwitch",
            (Param("name", "str", alias="device_id"), Param("time", "str"), Param("on", "bool")),
            timed_switch,
            check({"name": _lower, "on": _same} | _AT),
        ),
        Api(
            "CancelTimedSwitch",
            (Param("name", "str", alias="device_id"), Param("time", "str")),
            cancel_timed_switch,
            check({"name": _lower} | _AT),
        ),
        Api(
            "DocumentQA",
            _p("url", "question"),
            document_qa,
            check({"url": _strip, "question": _strip}),
        ),
        Api("ImageCaption", _p("url"), image_caption, check({"url": _strip})),
        Api("SpeechRecognition", _p("url"), speech_recognition, check({"url": _strip})),
        Api("SearchEngine", _p("keyword"), search_engine, _agree_search),
        Api("Wiki", _p("keyword"), wiki, check()),
        Api("Dictionary", _p("keyword"), dictionary, check()),
        Api(
            "Translate",
            (
                Param("src", "str"),
                Param("src_lang", "str", required=False),
                Param("tgt_lang", "str", required=False),
            ),
            translate,
            check({"src": _same}),
        ),
        Api("GetToday", (), get_today, check()),
        Api("Calculator", _p("formula"), calculator, check({"formula": _no_spaces})),
        Api("PlayMusic", _p("music_name"), play_music, check()),
        Api(
            "SendEmail",
            _p("receiver", "subject", "content"),
            send_email,
            check({"receiver": _lower, "subject": _strip, "content": _strip}),
        ),
    )
}
