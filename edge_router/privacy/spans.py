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


def resolved(entities: list[Entity], precedence: Callable[[Entity], Any]) -> list[Entity]:
    """``entities`` with overlaps resolved: taken in ``precedence`` order, each kept unless it overlaps one of
    another type kept before; the kept spans of one type that overlap are joined ("18, rue Manon Roux" and "rue
    Manon Roux\n20215"). Sorted by position."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=precedence):
        if not overlaps_any(entity.start, entity.end, [k for k in kept if k.type != entity.type]):
            kept.append(entity)
    joined: list[Entity] = []
    for e in sorted(kept, key=lambda e: (e.type, e.start)):
        if joined and joined[-1].type == e.type and e.start < joined[-1].end:
            joined[-1] = Entity(e.type, joined[-1].start, max(joined[-1].end, e.end))
        else:
            joined.append(e)
    return sorted(joined, key=lambda e: e.start)
