"""A span of personal data found in a text, and how overlapping spans are resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int


def overlaps_any(start: int, end: int, entities: list[Entity]) -> bool:
    return any(e.start < end and start < e.end for e in entities)


def without_overlaps(entities: list[Entity], precedence: Callable[[Entity], Any] | None = None) -> list[Entity]:
    """``entities`` with overlaps resolved: taken in ``precedence`` order (default: the longer span first), each
    kept when it overlaps none kept before; sorted by position."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=precedence or (lambda e: (-(e.end - e.start), e.start))):
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
