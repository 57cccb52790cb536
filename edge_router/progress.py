"""A dependency-free progress bar for long work (downloads, labelling)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class ProgressBar:
    """Draws ``label [#####.....] done/total rate ETA`` on one line of a stream.

    ``unit="bytes"`` shows sizes; any other unit is shown after the counts.
    Redraws at most every ``min_interval`` seconds; ``close()`` prints the last line.
    """

    def __init__(
        self,
        total: float | None,
        *,
        label: str = "",
        unit: str = "bytes",
        stream: TextIO | None = None,
        min_interval: float = 0.2,
        width: int = 28,
    ):
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.width = width
        self.done = 0.0
        self._start = time.monotonic()
        self._last_draw = 0.0

    def _fmt(self, n: float) -> str:
        return _human_bytes(n) if self.unit == "bytes" else f"{n:,.0f}"

    def update(self, n: float) -> None:
        """Add ``n`` units of finished work and redraw if it is time."""
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= self.min_interval:
            self._last_draw = now
            self._draw(final=False)

    def rate(self) -> float:
        """Units per second since the bar started."""
        elapsed = time.monotonic() - self._start
        return self.done / elapsed if elapsed > 0 else 0.0

    def _draw(self, *, final: bool) -> None:
        rate = self.rate()
        rate_text = f"{_human_bytes(rate)}/s" if self.unit == "bytes" else f"{rate:.2f} {self.unit}/s"
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
            eta = "done" if final else (f"ETA {remaining:.0f}s" if remaining != float("inf") else "ETA ?")
            counts = f"{self._fmt(self.done)}/{self._fmt(self.total)}"
            line = f"{self.label} [{bar}] {counts} {rate_text} {eta}"
        else:
            line = f"{self.label} {self._fmt(self.done)} {rate_text}"
        end = "\n" if final else ""
        self.stream.write("\r" + line + end)
        self.stream.flush()

    def close(self) -> None:
        self._draw(final=True)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
