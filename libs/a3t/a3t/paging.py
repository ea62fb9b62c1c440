"""Page tokens for the List RPCs of long-running resources, newest first (AIP-158).

ListExperiments and ListTrainingRuns page the same way: `page_size` 0 means DEFAULT_PAGE_SIZE, a
larger one than MAX_PAGE_SIZE is cut to it, a negative one is INVALID_ARGUMENT; `next_page_token`
is empty on the last page. The token is opaque to clients (URL-safe base64) but holds the sort
key of the last item returned, (create time, id), and the next page starts strictly after it: an
item created while a client walks the pages does not shift the walk (an offset would repeat the
item the new one pushed across the boundary). A token this server could not have made is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from a3t.errors import InvalidArgument, quote

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the token of the next; "" when this page is the last."""

    items: list[T]
    next_page_token: str


def _token(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _key(token: str) -> tuple[float, str]:
    refused = InvalidArgument(
        f"page_token {quote(token)} is not one this server returned; send the previous "
        "response's next_page_token, or none for the first page"
    )
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    # Bad base64, bad UTF-8, not JSON, or JSON nested deeper than the parser goes.
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise refused from exc
    if (
        isinstance(decoded, list)
        and len(decoded) == 2
        and type(decoded[0]) in (int, float)  # type(): a JSON true is no time
        and isinstance(decoded[1], str)
    ):
        return float(decoded[0]), decoded[1]
    raise refused


def newest_first(
    items: Iterable[T],
    key: Callable[[T], tuple[float, str]],
    page_size: int,
    page_token: str,
) -> Page[T]:
    """The page of `items` (any order) that `page_size` and `page_token` ask for, newest first
    by `key` (create time in seconds, then id: two items created in the same instant still
    have one order)."""
    if page_size < 0:
        raise InvalidArgument(
            f"page_size must be >= 0 (0 = {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}), "
            f"got {page_size}"
        )
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    ordered = sorted(items, key=key, reverse=True)
    if page_token:
        after = _key(page_token)
        ordered = [item for item in ordered if key(item) < after]
    page = ordered[:size]
    more = len(ordered) > size
    return Page(page, _token(key(page[-1])) if more else "")
