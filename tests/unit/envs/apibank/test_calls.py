"""Reading API requests with `ast`: what is accepted, and the error for each malformed one."""

from __future__ import annotations

import pytest

from a3t.envs.apibank.calls import ApiCall, CallError, parse_call, render


@pytest.mark.parametrize(
    "action",
    [
        "[QueryStock(stock_code='AAPL', date='2022-01-03')]",
        "API-Request: [QueryStock(stock_code='AAPL', date='2022-01-03')]",
        "  api-request:[QueryStock( stock_code = 'AAPL' , date=\"2022-01-03\" )]  \n",
        # a model that runs on and writes the result itself
        "API-Request: [QueryStock(stock_code='AAPL', date='2022-01-03')]->184.5",
    ],
)
def test_accepted_spellings(action: str) -> None:
    assert parse_call(action) == ApiCall(
        "QueryStock", (("stock_code", "AAPL"), ("date", "2022-01-03"))
    )


def test_literals() -> None:
    call = parse_call(
        "[F(a=1, b=-2.5, c=True, d=None, e=['x', 'y'], f={'k': [1, (2, 3)]}, g='it''s')]"
    )
    assert call.args == (
        ("a", 1),
        ("b", -2.5),
        ("c", True),
        ("d", None),
        ("e", ["x", "y"]),
        ("f", {"k": [1, [2, 3]]}),
        ("g", "its"),
    )
    assert parse_call("[GetToday()]") == ApiCall("GetToday", ())


def test_api_banks_quoted_lists_are_read_as_lists() -> None:
    """API-Bank's own requests quote lists whose items are quoted alike (not Python)."""
    call = parse_call(
        "[AddMeeting(token='t', meeting_topic='Sync', attendees='['John Smith', 'Jane Doe']', "
        "location='Room A')]"
    )
    assert dict(call.args)["attendees"] == ["John Smith", "Jane Doe"]
    assert dict(call.args)["location"] == "Room A"
    call = parse_call(
        "[RecordHealthData(user_id='1', time='2023-01-01 10:00:00', health_data='[{'name': "
        "'heart_rate', 'value': '80'}]')]"
    )
    assert dict(call.args)["health_data"] == [{"name": "heart_rate", "value": "80"}]
    # A well-formed quoted list stays a string (the API's list type reads it).
    assert parse_call("[F(a=\"['x']\")]").args == (("a", "['x']"),)


def test_render_round_trips() -> None:
    call = ApiCall("F", (("a", "it's"), ("b", [1, "x"]), ("c", False)))
    assert render(call) == "[F(a=\"it's\", b=[1, 'x'], c=False)]"
    assert parse_call(render(call)) == call


@pytest.mark.parametrize(
    ("action", "message"),
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
            "QueryStock(stock_code='AAPL')",
            "write the request as one call in brackets: [ApiName(key='value', ...)]",
        ),
        (
            "[QueryStock('AAPL', '2022-01-03')]",
            "QueryStock was given 2 positional arguments; name every argument: "
            "QueryStock(key='value', ...)",
        ),
        (
            "[QueryStock(stock_code=AAPL, date='2022-01-03')]",
            "argument 'stock_code' of QueryStock is not a literal value; write a quoted string, "
            "a number, True/False or a list",
        ),
        (
            "[QueryStock(stock_code=open('/etc/passwd').read(), date='x')]",
            "argument 'stock_code' of QueryStock is not a literal value; write a quoted string, "
            "a number, True/False or a list",
        ),
        (
            "[__import__('os')]",
            "__import__ was given 1 positional argument; name every argument: "
            "__import__(key='value', ...)",
        ),
        (
            "__import__('os').system('true')",
            "write the request as one call in brackets: [ApiName(key='value', ...)]",
        ),
        (
            "[os.system(command='true')]",
            "the API name must be a plain name like QueryStock; write [ApiName(key='value', ...)]",
        ),
        (
            "[GetToday(), GetToday()]",
            "write exactly one call inside the brackets: [ApiName(key='value', ...)]",
        ),
        ("[]", "write exactly one call inside the brackets: [ApiName(key='value', ...)]"),
        (
            "[F(a='x')] and [G()]",
            "write one call in brackets and nothing after it: [ApiName(key='value', ...)]",
        ),
        ("['GetToday']", "the request is not a call; write [ApiName(key='value', ...)]"),
        ("[F(**{'a': 1})]", "F: `**` arguments are not accepted; name every argument"),
        (
            "[F(a={[1]: 2})]",
            "argument 'a' of F is not a literal value; write a quoted string, a number, "
            "True/False or a list",
        ),
        (
            "[F(a=-'x')]",
            "argument 'a' of F is not a literal value; write a quoted string, a number, "
            "True/False or a list",
        ),
    ],
)
def test_malformed(action: str, message: str) -> None:
    with pytest.raises(CallError) as raised:
        parse_call(action)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "action", ["[F(a=" + "[" * 1000 + "]" * 1000 + ")]", "[F(a='\x00')]", "[F(a='x')] more"]
)
def test_odd_input_is_an_error_not_a_crash(action: str) -> None:
    with pytest.raises(CallError, match=r"^the request is not well-formed"):
        parse_call(action)
