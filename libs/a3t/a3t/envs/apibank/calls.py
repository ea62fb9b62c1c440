"""Reading an API request `[ApiName(key='value', ...)]` with Python's `ast` (never eval or exec).

    parse_call("API-Request: [QueryStock(stock_code='AAPL', date='2022-01-03')]")
    # ApiCall(name='QueryStock', args=(('stock_code', 'AAPL'), ('date', '2022-01-03')))

Accepted: optional `API-Request:` before the bracket, surrounding whitespace, and text after
`)]->` (a model that runs on and writes the result itself: that text is ignored). The request
is one call in brackets whose arguments are all keyword arguments with literal values (strings,
numbers, True/False/None, lists, tuples and dicts of those). Anything else raises CallError
with a message that says what was wrong.

API-Bank's own requests quote list values whose items are quoted the same way
(`attendees='['John Smith', 'Jane Doe']'`), which is not Python. When a request does not parse,
each `key='[...]'` whose closing `]'` is followed by the next `, key=` or by the closing `)]` is
read as the list it spells, and the request is parsed again.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

PREFIX = "API-Request:"
FORMAT = "[ApiName(key='value', ...)]"
# key='[...]' whose `]'` ends the value (next keyword or the end of the call follows).
_QUOTED_LIST = re.compile(r"(\w+\s*=\s*)'(\[.*?\])'(?=\s*(?:,\s*\w+\s*=|\)\s*\]\s*\Z))", re.S)


class CallError(Exception):
    """The text is not a well-formed API request."""


@dataclass(frozen=True)
class ApiCall:
    name: str
    args: tuple[tuple[str, Any], ...]  # keyword arguments, in the order written


def render(call: ApiCall) -> str:
    """The call as a request, values written as Python literals."""
    return f"[{call.name}({', '.join(f'{k}={v!r}' for k, v in call.args)})]"


def _syntax(text: str) -> ast.expr:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as first:
        repaired = _QUOTED_LIST.sub(r"\1\2", text)
        if repaired != text:
            try:
                return ast.parse(repaired, mode="eval").body
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                pass
        raise CallError(f"the request is not well-formed ({first.msg}); write {FORMAT}") from None
    except (ValueError, MemoryError, RecursionError):
        raise CallError(f"the request is not well-formed; write {FORMAT}") from None


def _literal(node: ast.expr) -> Any:
    """A literal's value, walked by hand; ValueError for anything that is not a literal."""
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, str | int | float | bool)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if k is not None]
        if len(keys) != len(node.keys):  # `{**other}`: not a literal
            raise ValueError
        return {_literal(k): _literal(v) for k, v in zip(keys, node.values, strict=True)}
    raise ValueError


def parse_call(action: str) -> ApiCall:
    """The request an action writes; CallError naming what is wrong with it."""
    text = action.strip()
    if text[: len(PREFIX)].lower() == PREFIX.lower():
        text = text[len(PREFIX) :].strip()
    head, arrow, _ = text.partition(")]->")
    if arrow:
        text = head + ")]"
    if not text.startswith("["):
        raise CallError(f"write the request as one call in brackets: {FORMAT}")
    body = _syntax(text)
    if not isinstance(body, ast.List):
        raise CallError(f"write one call in brackets and nothing after it: {FORMAT}")
    if len(body.elts) != 1:
        raise CallError(f"write exactly one call inside the brackets: {FORMAT}")
    call = body.elts[0]
    if not isinstance(call, ast.Call):
        raise CallError(f"the request is not a call; write {FORMAT}")
    if not isinstance(call.func, ast.Name):
        raise CallError(f"the API name must be a plain name like QueryStock; write {FORMAT}")
    name = call.func.id
    if call.args:
        count = len(call.args)
        raise CallError(
            f"{name} was given {count} positional argument{'s' if count > 1 else ''}; "
            f"name every argument: {name}(key='value', ...)"
        )
    args = []
    for keyword in call.keywords:
        if keyword.arg is None:
            raise CallError(f"{name}: `**` arguments are not accepted; name every argument")
        try:
            args.append((keyword.arg, _literal(keyword.value)))
        except (ValueError, TypeError, RecursionError):
            raise CallError(
                f"argument {keyword.arg!r} of {name} is not a literal value; write a quoted "
                "string, a number, True/False or a list"
            ) from None
    return ApiCall(name, tuple(args))
