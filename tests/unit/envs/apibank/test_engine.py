"""ApiBankEnvironment on API-Bank's release: tasks, splits, episodes, errors, state isolation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from a3t.envs.apibank import release
from a3t.envs.apibank.engine import ApiBankEnvironment, ApiBankGame
from a3t.envs.base import GameState, TaskRecord
from a3t.errors import FailedPrecondition, NotFound, Unimplemented


def game(env: ApiBankEnvironment, task_id: str) -> ApiBankGame:
    return env.load(TaskRecord(task_id, "", "level-1", task_id))


def test_tasks(env: ApiBankEnvironment) -> None:
    tasks = env.list_tasks("level-1")
    assert len(tasks) == 399
    assert [t.task_id for t in tasks] == sorted(t.task_id for t in tasks)
    assert len({t.task_id for t in tasks}) == 399
    assert tasks[0] == TaskRecord(
        "AddAgenda-AddAlarm-GetUserToken-level-2-1/0",
        "GetUserToken",
        "level-1",
        "AddAgenda-AddAlarm-GetUserToken-level-2-1/0",
    )
    assert len({t.task_type for t in tasks}) == 49


def test_splits_are_disjoint_by_dialogue_and_deterministic(
    env: ApiBankEnvironment, apibank_data: Path
) -> None:
    train, test = env.list_tasks("level-1-train"), env.list_tasks("level-1-test")
    print(f"\nsplits: level-1 399, level-1-train {len(train)}, level-1-test {len(test)}")
    files = {
        s: {env.items()[t.task_id].file for t in tasks}
        for s, tasks in (("train", train), ("test", test))
    }
    assert (len(train), len(files["train"]), len(test), len(files["test"])) == (285, 148, 114, 64)
    assert not files["train"] & files["test"]
    assert {t.task_id for t in train} | {t.task_id for t in test} == set(env.items())
    assert {t.split for t in train} == {"level-1-train"}
    assert test[0].task_id == "AddAgenda-level-1-1/0"  # pins SPLIT_SEED's draw
    again = ApiBankEnvironment(apibank_data)
    assert again.list_tasks("level-1-test") == test
    assert again.list_tasks("level-1-train") == train


def test_unknown_split_and_missing_release(env: ApiBankEnvironment, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as raised:
        env.list_tasks("train")
    assert str(raised.value) == (
        "apibank has no split 'train'; its splits: level-1, level-1-train, level-1-test"
    )
    missing = ApiBankEnvironment(tmp_path / "nowhere")
    with pytest.raises(NotFound) as raised:
        missing.list_tasks("level-1")
    assert str(raised.value) == (
        f"API-Bank's release is expected at {tmp_path / 'nowhere'} (with "
        "test-data/level-1-api.json, init_database/ and lv1-lv2-samples/); copy the release "
        "there or point the env service at it with --env-data-roots apibank=/path/to/api-bank"
    )
    with pytest.raises(NotFound, match="no split 'x'"):
        missing.list_tasks("x")  # the split is checked before the data


def test_load_of_an_unknown_ref(env: ApiBankEnvironment) -> None:
    with pytest.raises(FailedPrecondition, match="ref 'nope/0' is not a level-1 item"):
        env.load(TaskRecord("nope/0", "Wiki", "level-1", "nope/0"))


def test_generate_is_unimplemented_and_warm_up_reads_nothing(tmp_path: Path) -> None:
    env = ApiBankEnvironment(tmp_path)
    env.warm_up()  # no data needed
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Unimplemented, match="apibank has no task generator"):
        env.generate("x", 1, 0, 1, ())


def test_first_observation_is_the_items_descriptions_and_dialogue(
    env: ApiBankEnvironment, apibank_data: Path
) -> None:
    raw = json.loads((apibank_data / release.ITEMS).read_text("utf-8"))[0]
    g = game(env, "ModifyRegistration-QueryHealthData-CancelRegistration-level-2-2/0")
    instruction, state = g.reset()
    assert instruction == (
        "Generate the API request the dialogue calls for. The current year is 2023."
    )
    descriptions = raw["instruction"].split("API descriptions:\n")[1].strip()
    dialogue = raw["input"].strip().removesuffix("Generate API Request:").strip()
    assert state == GameState(
        f"API descriptions:\n{descriptions}\n\n{dialogue}\n{instruction}", (), 0.0, False, False
    )
    assert descriptions.count("\n") == 2  # three APIs described


def test_result_observations(env: ApiBankEnvironment) -> None:
    g = game(env, "QueryStock-OpenBankAccount-QueryBalance-GetUserToken-level-2-1/0")
    g.reset()
    assert g.step("API-Request: [QueryStock(stock_code='AMZN', date='2022-03-12')]") == GameState(
        "API-Request: [QueryStock(stock_code='AMZN', date='2022-03-12')]->3026.1",
        (),
        1.0,
        True,
        True,
    )
    g.reset()  # the right API, refused by it: a result, compared with the gold's
    assert g.step("[QueryStock(stock_code='AMZN', date='1999-01-01')]") == GameState(
        "API-Request: [QueryStock(stock_code='AMZN', date='1999-01-01')]->Error: No price of "
        "AMZN on 1999-01-01.",
        (),
        0.0,
        True,
        False,
    )
    g.reset()  # another API: it runs, and the episode is lost
    assert g.step("[GetUserToken(username='nobody', password='x')]") == GameState(
        "API-Request: [GetUserToken(username='nobody', password='x')]->Error: No user named "
        "'nobody'.",
        (),
        0.0,
        True,
        False,
    )
    g.reset()  # the check's normalisation: the stock code's case, spaces around the date
    assert g.step("[QueryStock(stock_code='amzn', date=' 2022-03-12 ')]").won


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (
            "[Foo(",
            "the request is not well-formed ('(' was never closed); write "
            "[ApiName(key='value', ...)]",
        ),
        (
            "API-Request: QueryStock",
            "write the request as one call in brackets: [ApiName(key='value', ...)]",
        ),
        (
            "[QueryStock('AMZN', '2022-03-12')]",
            "QueryStock was given 2 positional arguments; name every argument: "
            "QueryStock(key='value', ...)",
        ),
        (
            "[QueryStock(stock_code=AMZN, date='2022-03-12')]",
            "argument 'stock_code' of QueryStock is not a literal value; write a quoted string, a "
            "number, True/False or a list",
        ),
        (
            "[__import__('os')]",
            "__import__ was given 1 positional argument; name every argument: "
            "__import__(key='value', ...)",
        ),
        (
            "[__import__(name='os')]",
            "unknown API '__import__'; use one of the APIs described above",
        ),
        ("[FooBar(x='1')]", "unknown API 'FooBar'; use one of the APIs described above"),
        (
            "[querystock(stock_code='AMZN', date='2022-03-12')]",
            "unknown API 'querystock' (did you mean QueryStock?); use one of the APIs described "
            "above",
        ),
        (
            "[QueryStock(stock_code='AMZN')]",
            "missing argument 'date' for QueryStock; it takes QueryStock(stock_code, date)",
        ),
        (
            "[QueryStock()]",
            "missing arguments 'stock_code', 'date' for QueryStock; it takes "
            "QueryStock(stock_code, date)",
        ),
        (
            "[QueryStock(stock_code='AMZN', date='2022-03-12', exchange='NYSE')]",
            "unexpected argument 'exchange' for QueryStock; it takes QueryStock(stock_code, date)",
        ),
        (
            "[QueryStock(stock_code=5, date='2022-03-12')]",
            "argument 'stock_code' of QueryStock must be a string ('...'), got 5",
        ),
        (
            "[BookHotel(hotel_name='Hilton', check_in_time='2023-06-01', check_out_time="
            "'2023-06-03', room_count='two', adult_count=2, child_count=0)]",
            "argument 'room_count' of BookHotel must be an integer (or a string of digits), got "
            "'two'",
        ),
        (
            "[TimedSwitch(name='light', time='2023-03-15 18:30:00', on='yes')]",
            "argument 'on' of TimedSwitch must be True or False, got 'yes'",
        ),
        (
            "[AddMeeting(token='t', meeting_topic='x', start_time='2023-01-01 10:00:00', "
            "end_time='2023-01-01 11:00:00', location='y', attendees=[1, 2])]",
            "argument 'attendees' of AddMeeting must be a list of strings (['...', ...]), got "
            "[1, 2]",
        ),
        (
            "[TimedSwitch(name='light', device_id='light', time='2023-03-15 18:30:00', on=True)]",
            "argument 'name' of TimedSwitch is given twice",
        ),
        (
            "[ModifyRegistration(new_appointment_doctor='Dr. Lee')]",
            "missing argument 'appointment_id' for ModifyRegistration; it takes "
            "ModifyRegistration(appointment_id, [new_appointment_date], [new_appointment_doctor])",
        ),
    ],
)
def test_refused_requests_are_errors_and_the_episode_goes_on(
    env: ApiBankEnvironment, action: str, error: str
) -> None:
    g = game(env, "QueryStock-OpenBankAccount-QueryBalance-GetUserToken-level-2-1/0")
    g.reset()
    assert g.step(action) == GameState(f"Error: {error}", (), 0.0, False, False)
    assert g.step(action).done is False  # again: still refused, still going
    assert g.step("[QueryStock(stock_code='AMZN', date='2022-03-12')]").won


def test_stepping_outside_an_episode(env: ApiBankEnvironment) -> None:
    g = game(env, "Wiki-level-1-1/0")
    with pytest.raises(FailedPrecondition, match="call reset"):
        g.step("[GetToday()]")
    g.reset()
    assert g.step("[GetToday()]").done
    with pytest.raises(FailedPrecondition, match="the episode is over"):
        g.step("[GetToday()]")


def test_a_mutation_is_not_seen_by_the_next_episode_or_another_game(
    env: ApiBankEnvironment,
) -> None:
    add = game(env, "AddAlarm-level-1-1/2")  # foo sets an alarm
    add.reset()
    assert add.step(add.item.gold).won
    query = "[QueryAlarm(token='z9x8c7v6b5n4m3q2w1', time='2021-10-14 08:00:00')]"
    add.reset()
    assert add.step(query).observation.endswith("->Error: No alarm at 2021-10-14 08:00:00.")
    other = game(env, "AddAlarm-level-1-1/2")
    other.reset()
    assert other.step(query).observation.endswith("->Error: No alarm at 2021-10-14 08:00:00.")

    delete = game(env, "DeleteAlarm-AddAgenda-GetUserToken-level-2-1/2")  # JohnDoe's 07:00
    for _ in range(2):  # the alarm is back in the next episode
        delete.reset()
        assert delete.step(delete.item.gold).won

    register = game(env, "RegisterUser-level-1-2/0")
    register.reset()
    assert register.step(register.item.gold).won
    register.reset()  # registered again: the username was not kept
    assert register.step(register.item.gold).won
    register.reset()
    assert register.step("[GetUserToken(username='johndoe', password='mypassword123')]") == (
        GameState(
            "API-Request: [GetUserToken(username='johndoe', password='mypassword123')]->Error: "
            "No user named 'johndoe'.",
            (),
            0.0,
            True,
            False,
        )
    )

    change = game(env, "ModifyPassword-level-1-1/2")  # user2's password changes
    change.reset()
    assert change.step(change.item.gold).won
    login = game(env, "QueryBalance-QueryStock-OpenBankAccount-GetUserToken-level-2-2/0")
    login.reset()
    assert login.step(login.item.gold).won  # user2pass still works elsewhere


def test_an_episode_starts_after_the_dialogues_earlier_requests(env: ApiBankEnvironment) -> None:
    """ForgotPassword's second step works because the first step (an earlier request of the
    dialogue) was replayed; without it the code was never sent."""
    g = game(env, "ForgotPassword-level-1-1/2")
    assert len(g.item.earlier) == 1
    assert g.gold().result.output == "success"
    g.reset()
    state = g.step(
        "[ForgotPassword(status='Verification Code', verification_code=970420, "
        "new_password='newpass123')]"
    )
    assert (state.won, state.observation.endswith("->success")) == (True, True)
    first = game(env, "ForgotPassword-level-1-1/0")
    first.reset()
    assert first.step(
        "[ForgotPassword(status='Verification Code', verification_code=970420, "
        "new_password='newpass123')]"
    ).observation.endswith("->Error: Call ForgotPassword with status 'Forgot Password' first.")


def test_playing_never_changes_the_engines_databases(env: ApiBankEnvironment) -> None:
    fresh = release.read_state(env.data_root)
    item = env.items()["AddAlarm-level-1-1/0"]  # no earlier requests
    for task_id in ("AddAlarm-level-1-1/2", "RegisterUser-level-1-2/0", "DeleteScene-level-1-1/0"):
        g = game(env, task_id)
        g.reset()
        assert g.step(g.item.gold).won
    start = env.start_state(item)
    for table in ("accounts", "alarms", "scenes", "agenda", "appointments", "health"):
        assert getattr(start, table) == getattr(fresh, table), table
    assert start.ref is env.start_state(item).ref  # read-only tables are shared, not copied
