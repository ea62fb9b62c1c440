"""a3t.paging: newest-first pages with opaque keyset tokens (ListExperiments, ListTrainingRuns)."""

from __future__ import annotations

import base64

import pytest

from a3t.errors import InvalidArgument
from a3t.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, newest_first


def key(item: tuple[float, str]) -> tuple[float, str]:
    return item


def walk(items, page_size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page = newest_first(items, key, page_size, token)
        pages.append([item_id for _, item_id in page.items])
        token = page.next_page_token
        if not token:
            return pages


def test_a_walk_returns_every_item_once_newest_first_ties_broken_by_id():
    items = [(1.0, "a"), (3.0, "c"), (2.0, "b2"), (2.0, "b1"), (4.5, "d"), (0.5, "z")]
    assert walk(items, 2) == [["d", "c"], ["b2", "b1"], ["a", "z"]]
    assert walk(items, 4) == [["d", "c", "b2", "b1"], ["a", "z"]]
    assert walk(items, 6) == [["d", "c", "b2", "b1", "a", "z"]]  # no empty page after it
    assert walk([], 3) == [[]]


def test_an_item_created_during_a_walk_does_not_shift_it():
    items = [(float(t), f"e{t}") for t in range(1, 6)]
    first = newest_first(items, key, 2, "")
    assert [i for _, i in first.items] == ["e5", "e4"]
    items.append((9.0, "new"))  # would push e4 onto the next page of an offset token
    rest = newest_first(items, key, 10, first.next_page_token)
    assert [i for _, i in rest.items] == ["e3", "e2", "e1"] and rest.next_page_token == ""


def test_page_size_zero_is_the_default_and_a_larger_one_is_cut_to_the_maximum():
    items = [(float(t), f"{t:05d}") for t in range(MAX_PAGE_SIZE + 5)]
    assert len(newest_first(items, key, 0, "").items) == DEFAULT_PAGE_SIZE == 50
    page = newest_first(items, key, MAX_PAGE_SIZE + 5, "")
    assert len(page.items) == MAX_PAGE_SIZE == 1000
    assert [i for _, i in newest_first(items, key, 0, page.next_page_token).items] == [
        "00004",
        "00003",
        "00002",
        "00001",
        "00000",
    ]


def test_a_negative_page_size_is_refused_naming_the_field():
    with pytest.raises(InvalidArgument, match=r"page_size must be >= 0 \(0 = 50, at most 1000\)"):
        newest_first([], key, -1, "")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        b64(b"\xff\xfe"),  # not UTF-8
        b64(b"plain text"),
        b64(b'{"create_time": 1, "id": "a"}'),
        b64(b"[1.0]"),
        b64(b'[true, "a"]'),
        b64(b'["1.0", "a"]'),
        b64(b"[" * 100_000 + b"]" * 100_000),
    ],
)
def test_a_token_this_server_did_not_make_is_refused_naming_the_field(token):
    with pytest.raises(InvalidArgument, match=r"page_token .* is not one this server returned"):
        newest_first([(1.0, "a")], key, 1, token)
