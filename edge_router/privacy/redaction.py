"""Personal values replaced by stable placeholders before a cloud call, and put back in the answer.

The same value gets the same placeholder everywhere in a conversation (``<EMAIL_1>``, ``<PHONE_2>``); the cloud
sees only placeholders, and the answer it writes with them is restored on the device, also while streaming (a
placeholder split across streamed pieces is held back until it is whole).
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from .spans import Entity, without_overlaps

_PLACEHOLDER = re.compile(r"<[A-Z_]+_\d+>")
_LONGEST = 32  # no placeholder is longer; a held "<..." longer than this is plain text


class Redaction:
    """The placeholders of one conversation."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder(self, kind: str, value: str) -> str:
        if value not in self._by_value:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            name = f"<{kind}_{self._counts[kind]}>"
            self._by_value[value], self._by_placeholder[name] = name, value
        return self._by_value[value]

    def redact(self, text: str, entities: Iterable[Entity]) -> str:
        """``text`` with every entity's value replaced by its placeholder."""
        out, at = [], 0
        for e in sorted(entities, key=lambda e: e.start):
            out += [text[at:e.start], self.placeholder(e.type, text[e.start:e.end])]
            at = e.end
        return "".join(out) + text[at:]

    def restore(self, text: str) -> str:
        """``text`` with every placeholder of this conversation replaced by its value (others left alone)."""
        return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(), m.group()), text)

    def restore_stream(self, pieces: Iterable[str]) -> Iterator[str]:
        """Restored pieces; text that may be the start of a placeholder waits for the next piece."""
        held = ""
        for piece in pieces:
            held += piece
            cut = held.rfind("<")
            if cut >= 0 and ">" not in held[cut:] and len(held) - cut <= _LONGEST:
                ready, held = held[:cut], held[cut:]
            else:
                ready, held = held, ""
            if ready:
                yield self.restore(ready)
        if held:
            yield self.restore(held)


def redact_messages(messages: list[dict], spans: dict[int, list[Entity]], redaction: Redaction) -> list[dict]:
    """Copies of ``messages`` with the ``spans`` of message i replaced by placeholders (overlaps resolved: the
    longer span wins)."""
    out = []
    for i, message in enumerate(messages):
        kept = without_overlaps(spans.get(i, []))
        out.append({**message, "content": redaction.redact(message["content"], kept)} if kept else message)
    return out
