"""Progress on the terminal: one tqdm bar per (round, phase), replaced as phases advance."""

from __future__ import annotations

from tqdm import tqdm

from a3t_controller.rounds import Progress


class ProgressPrinter:
    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._key: tuple[int, str] | None = None

    def update(self, p: Progress) -> None:
        key = (p.round, p.phase)
        if key != self._key:
            self.close()
            self._key = key
            label = "base eval" if p.round < 0 else f"round {p.round} {p.phase}"
            self._bar = tqdm(
                total=p.total or None,
                desc=label,
                unit="ep" if p.phase != "train" else "step",
                dynamic_ncols=True,
            )
        if self._bar is not None:
            if p.total and self._bar.total != p.total:
                self._bar.total = p.total
            self._bar.n = p.done
            self._bar.set_postfix_str(p.message[-60:], refresh=False)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
