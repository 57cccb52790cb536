"""What every results page writes the same way: numbers formatted for Markdown, and the JSON beside the page."""

from __future__ import annotations

import json
from pathlib import Path


def pct(x: float | None) -> str:
    """A share as "12.3 %" ("—" when unknown)."""
    return "—" if x is None or x != x else f"{100 * x:.1f} %"


def usd(x: float | None) -> str:
    return "—" if x is None else f"${x:.2f}" if x >= 0.1 else f"${x:.4f}"


def fmt(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals ("—" when unknown)."""
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def write_json(data: dict, path: str | Path) -> Path:
    """``data`` as indented JSON at ``path`` (the machine-readable twin of a page)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
