"""Hypothesis strategies for bad input: hostile text, and whole protobuf requests whose every
field is generated (valid values mixed in per field, so a request can get past its first check
and reach the next).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

# Text a model or client can send that plain st.text() seldom hits.
NASTY = (
    "",
    " ",
    "\x00",
    "look\x00",
    "\n",
    "\r\n\r\n",
    "\t\x0b\x0c",
    "look\nlook",
    "\u202egol",  # right-to-left override
    "\ufefflook",  # byte-order mark
    "\u200b",  # zero-width space
    "e\u0301" * 50,  # combining marks
    "\U0001f600" * 20,  # astral plane
    "\uffff\ufffe",
    "[" * 5000,
    "{" * 5000,
    "(" * 5000,
    '"' * 300,
    "'; DROP TABLE experiments; --",
    "../../../../etc/passwd",
    "%s%n%x{0}{}",
    "9" * 5000,
    "-1",
    "1e999",
    "nan",
    "x" * 100_000,
)


def hostile_text(max_size: int = 300) -> st.SearchStrategy[str]:
    """Any text: arbitrary unicode (control characters and NUL included), the fixed hostile
    strings above, and long repeats."""
    return st.one_of(
        st.text(max_size=max_size),
        st.sampled_from(NASTY),
        st.text(min_size=1, max_size=8).map(lambda s: s * 2000),
    )


_INT_BOUNDS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return hostile_text()
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=300)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=64)
    if field.type == FieldDescriptor.TYPE_ENUM:
        # proto3 enums are open: a newer client (or garbage) can send any int32.
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))
    low, high = _INT_BOUNDS[field.type]
    edges = sorted({0, 1, -1 if low < 0 else 0, low, high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def messages(
    cls: type[Message], valid: dict[str, Any] | None = None, depth: int = 2
) -> st.SearchStrategy[Message]:
    """Instances of `cls` with every field generated. `valid` maps a field name to a strategy or
    a plain value that is drawn instead half of the time (a nested message's fields as
    "spec.name"); unset fields stay at their zero value, which is itself an input to test."""
    valid = valid or {}
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in cls.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry or depth == 0:
                continue
            nested = {
                k.split(".", 1)[1]: v for k, v in valid.items() if k.startswith(field.name + ".")
            }
            sub_cls = type(getattr(cls(), field.name)) if not _repeated(field) else None
            if sub_cls is None:
                continue  # repeated messages: none in a3t's requests
            one = messages(sub_cls, nested, depth - 1)
        else:
            one = _scalar(field)
            if _repeated(field):
                one = st.lists(one, max_size=4)
        if field.name in valid:
            pick = valid[field.name]
            pick = pick if isinstance(pick, st.SearchStrategy) else st.just(pick)
            one = st.one_of(pick, one)
        fields[field.name] = st.one_of(st.none(), one)  # None: the field is not sent
    return st.fixed_dictionaries(fields).map(
        lambda values: _build(cls, {k: v for k, v in values.items() if v is not None})
    )


def _repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    msg = cls()
    for name, value in values.items():
        if isinstance(value, Message):
            getattr(msg, name).CopyFrom(value)
        elif isinstance(value, list):
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)
    return msg
