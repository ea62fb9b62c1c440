"""Progress of `a3t run`: one tqdm bar per (round, phase) on a terminal, plain lines elsewhere.

A bar redraws itself with carriage returns many times a second: written to a file or a pipe (a
log, `make run | tee`, CI) that is an unreadable wall of partial lines. When the stream is not a
TTY each phase prints a line when it starts, at most one every `interval` seconds while it runs,
and one when it ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

from a3t_controller.rounds import Progress

# What a bar shows of the phase's message: its start (a training line starts with epoch, step
# and loss; cutting its start once hid the loss's leading digits).
POSTFIX_CHARS = 60
PLAIN_INTERVAL_SECONDS = 5.0


def _label(p: Progress) -> str:
    """A phase's name on its bar, e.g. `round 0 explore`; the base model's evaluations are
    `base eval` and `base eval_ungrounded`."""
    return f"base {p.phase}" if p.round < 0 else f"round {p.round} {p.phase}"


def short(message: str, limit: int = POSTFIX_CHARS) -> str:
    """`message` cut at its end to `limit` characters (an ellipsis marks the cut)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class ProgressPrinter:
    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._interval = interval
        self._clock = clock
        self._bar: tqdm | None = None
        self._key: tuple[int, str] | None = None
        self._last: Progress | None = None  # plain mode: the newest update of this phase
        self._printed_at = 0.0

    def update(self, p: Progress) -> None:
        key = (p.round, p.phase)
        if key != self._key:
            self.close()
            self._key = key
            if self._tty:
                self._bar = tqdm(
                    total=p.total or None,
                    desc=_label(p),
                    unit="ep" if p.phase != "train" else "step",
                    dynamic_ncols=True,
                    file=self._stream,
                )
            else:
                self._line(p, "start")
        if self._bar is not None:
            if p.total and self._bar.total != p.total:
                self._bar.total = p.total
            self._bar.n = p.done
            self._bar.set_postfix_str(short(p.message), refresh=False)
            self._bar.refresh()
            return
        self._last = p
        if self._clock() - self._printed_at >= self._interval:
            self._line(p, "")

    def _line(self, p: Progress, event: str) -> None:
        count = f"{p.done}/{p.total}" if p.total else str(p.done)
        parts = [_label(p) + ":", event or count, p.message]
        if event == "end":
            parts[1] = f"end {count}"
        print(" ".join(x for x in parts if x), file=self._stream, flush=True)
        self._printed_at = self._clock()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._last is not None:
            self._line(self._last, "end")
            self._last = None
