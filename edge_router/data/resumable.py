"""Appending one JSONL row per finished item, so that a long job that stops resumes where it left off, and
reading such rows back."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from ..progress import ProgressBar

T = TypeVar("T")


def append_rows(path: Path, items: Sequence[T], make_row: Callable[[T], dict | None], *, label: str, unit: str,
                progress: bool) -> float:
    """Make and append a row per item (flushed each time) with an optional progress bar; returns seconds.
    An item whose ``make_row`` returns None writes nothing (a later run makes it)."""
    bar = ProgressBar(len(items), label=label, unit=unit, min_interval=1.0) if progress and items else None
    started = time.perf_counter()
    with open(path, "a", encoding="utf-8") as out:
        for item in items:
            row = make_row(item)
            if row is not None:  # None: this item is left for the next run
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return time.perf_counter() - started


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a JSONL file, plain or .gz; none when it does not exist yet (a half-written last line from an
    interrupted run is skipped)."""
    if not Path(path).is_file():
        return []
    rows = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
