"""Our API implementations against the release: parameters, behaviour, stand-ins, the check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from a3t.envs.apibank import apis
from a3t.envs.apibank.apis import APIS, STAND_INS, ApiResult, Outcome, State, execute
from a3t.envs.apibank.release import read_items, read_state


@pytest.fixture(scope="module")
def initial(apibank_data: Path) -> State:
    return read_state(apibank_data)


def run(state: State, name: str, **args: Any) -> ApiResult:
    return execute(state, name, list(args.items()))


def test_parameters_match_the_items_descriptions(apibank_data: Path) -> None:
    described: dict[str, dict[str, str]] = {}
    for item in read_items(apibank_data):
        for line in item.descriptions:
            d = json.loads(line)
            described[d["name"]] = {k: v["type"] for k, v in d["input_parameters"].items()}
    assert set(described) == set(APIS)
    assert len(APIS) == 49
    for name, api in APIS.items():
        assert {p.name: p.type for p in api.params} == described[name], name
    assert set(STAND_INS) < set(APIS)
    aliased = {(n, p.name, p.alias) for n, a in APIS.items() for p in a.params if p.alias}
    assert aliased == {
        ("TimedSwitch", "name", "device_id"),
        ("CancelTimedSwitch", "name", "device_id"),
    }


def test_values_are_read_with_the_types_api_bank_writes(initial: State) -> None:
    s = initial.fresh()
    booked = run(
        s,
        "BookHotel",
        hotel_name="Nowhere Inn",
        check_in_time="2023-06-01",
        check_out_time="2023-06-03",
        room_count="1",
        adult_count=2,
        child_count="0",
    )
    assert (booked.args["room_count"], booked.args["child_count"], booked.error) == (1, 0, None)
    switched = run(s, "TimedSwitch", device_id="Lamp 7", time="2023-01-01 08:00:00", on="False")
    assert (switched.args, switched.output) == (
        {"name": "Lamp 7", "time": "2023-01-01 08:00:00", "on": False},
        "success",
    )
    assert s.switches["lamp 7"] == [{"time": "2023-01-01 08:00:00", "on": False}]
    meeting = run(
        s,
        "AddMeeting",
        token="a9s8d7f6g5h4j3k2l1",
        meeting_topic="Plan",
        start_time="2023-01-01 10:00:00",
        end_time="2023-01-01 11:00:00",
        location="Room 1",
        attendees="['Ann', 'Bo']",
    )
    assert (meeting.args["attendees"], meeting.output) == (["Ann", "Bo"], "success")


def test_calculator_reads_arithmetic_only(initial: State) -> None:
    s = initial.fresh()
    assert run(s, "Calculator", formula="(5+6)*3").output == 33.0
    assert run(s, "Calculator", formula=" 7 - 2 * 3 / 4 ").output == 5.5
    assert run(s, "Calculator", formula="-(2+3)").output == -5.0
    assert run(s, "Calculator", formula="1/0").error == "Division by zero in '1/0'."
    assert run(s, "Calculator", formula="__import__('os')").error == (
        "Invalid formula \"__import__('os')\": only integers, + - * / and ( )."
    )
    assert run(s, "Calculator", formula="2**8").error == "Invalid formula '2**8'."
    assert run(s, "Calculator", formula="(1+").error == "Invalid formula '(1+'."


def test_stand_ins_are_deterministic_and_offline(initial: State) -> None:
    s = initial.fresh()
    assert run(s, "GetToday").output == "2023-03-31"
    assert run(s, "Translate", src="Hello", tgt_lang="Spanish").output == "Hola"
    assert run(s, "Translate", src="Hello", src_lang="en", tgt_lang="es").output == "Hola"
    assert run(s, "Translate", src="Hello", tgt_lang="de").error == (
        "No offline translation of 'Hello' into de."
    )
    assert run(s, "Translate", src="Hello", tgt_lang="Klingon").error == (
        "Language 'Klingon' is not supported."
    )
    meanings = run(s, "Dictionary", keyword=" Plethora ").output
    assert meanings[0]["partOfSpeech"] == "noun"
    assert run(s, "Dictionary", keyword="zyzzyva").error == (
        "'zyzzyva' is not in the (offline) dictionary."
    )
    token = run(s, "RegisterUser", username="ada", password="x", email="ada@example.com")
    again = run(initial.fresh(), "RegisterUser", username="ada", password="y", email="a@b.io")
    assert token.output == again.output and len(token.output["token"]) == 18
    first = run(
        initial.fresh(),
        "AppointmentRegistration",
        patient_name="Ada",
        date="2023-05-05",
        doctor_name="Dr. Who",
    )
    second = run(
        initial.fresh(),
        "AppointmentRegistration",
        patient_name="Ada",
        date="2023-05-05",
        doctor_name="Dr. Who",
    )
    assert first.output == second.output and len(first.output) == 8
    found = run(s, "SearchEngine", keyword="the sustainable development").output
    assert (
        found == run(initial.fresh(), "SearchEngine", keyword="the sustainable development").output
    )
    # the two documents API-Bank's dialogue recorded for this query, in its order
    assert [d["title"] for d in found] == [
        "What Are the Sustainable Development Goals?",
        "Role of Education in Achieving the Sustainable Development Goals",
    ]
    code = run(
        s, "ForgotPassword", status="Forgot Password", username="foo", email="foo@example.com"
    )
    assert code.output == apis.VERIFICATION_CODE == 970420


def test_api_semantics(initial: State) -> None:
    s = initial.fresh()
    assert run(s, "QueryStock", stock_code=" amzn", date="2022-03-12").output == 3026.1
    assert (
        run(s, "QueryHistoryToday", date="2021-04-21").output
        == run(s, "QueryHistoryToday", date="04-21").output
    )
    assert run(s, "QueryBalance", token="bad").error == "The token is invalid."
    assert run(s, "SendEmail", receiver="bob@example", subject="s", content="c").error == (
        "'bob@example' is not an email address."
    )
    assert run(s, "PlayMusic", music_name=" Shape of You").output == "music://shape of you"
    assert run(s, "ModifyRegistration", appointment_id="34567890").error == (
        "Nothing to modify: give a new date or a new doctor."
    )
    assert run(s, "ImageCaption", url="http://x/y.gif").error == (
        "The image url must end with .jpg, .jpeg or .png."
    )


def _outcome(state: State, name: str, **args: Any) -> Outcome:
    return Outcome(run(state, name, **args), state)


def test_the_check_is_lenient_where_api_bank_is_and_strict_elsewhere(initial: State) -> None:
    agree = APIS["AddAgenda"].agree
    gold = _outcome(
        initial.fresh(),
        "AddAgenda",
        token="o8i7u6y5t4r3e2w1q0",
        content="Meeting with John at the office",
        time="2023-09-12 14:00:00",
        location="office",
    )
    close = _outcome(
        initial.fresh(),
        "AddAgenda",
        token="o8i7u6y5t4r3e2w1q0",
        content="meeting with John at office",
        time="2023-09-12 14:00:00",
        location="office",
    )
    far = _outcome(
        initial.fresh(),
        "AddAgenda",
        token="o8i7u6y5t4r3e2w1q0",
        content="Lunch with Ann",
        time="2023-09-12 14:00:00",
        location="office",
    )
    other_user = _outcome(
        initial.fresh(),
        "AddAgenda",
        token="a9s8d7f6g5h4j3k2l1",
        content="Meeting with John at the office",
        time="2023-09-12 14:00:00",
        location="office",
    )
    assert (agree(close, gold), agree(far, gold), agree(other_user, gold)) == (True, False, False)
    # A generated token is not compared; the arguments are.
    register = APIS["RegisterUser"].agree
    g = _outcome(initial.fresh(), "RegisterUser", username="ada", password="x", email="a@b.io")
    assert register(g, g)
    other = _outcome(initial.fresh(), "RegisterUser", username="ada", password="y", email="a@b.io")
    assert not register(other, g)
    # Search results agree as a set.
    search = APIS["SearchEngine"].agree
    s1 = _outcome(initial.fresh(), "SearchEngine", keyword="sustainable development")
    flipped = Outcome(
        ApiResult("SearchEngine", s1.result.args, s1.result.output[::-1], None), s1.state
    )
    assert search(flipped, s1)
    assert apis.word_overlap("a b c", "A B d") == 0.5
