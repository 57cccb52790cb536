"""Conversations: which route answered each turn, and a follow-up that stays with it.

The router answers a query and forgets it; a chat app sends the whole conversation back with the next turn. So
``AnsweredTurns`` keeps, for the last answers this router gave, a hash of the answer's text and the route that
gave it (the text itself is never kept); a later request holding that answer as an assistant message is a
follow-up of it. ``FollowUp`` keeps a follow-up on the route of the turn it follows unless the deciding score is
at least ``margin`` away from the threshold: "and why is that?" after a cloud answer is not re-decided as if it
stood alone.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from ..backends.messages import Messages
from ..defaults import Route
from .stages import Query, Verdict
from .threshold import ThresholdPolicy


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


class AnsweredTurns:
    """The routes of the last ``size`` answers, by a hash of their text; thread-safe."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._routes: OrderedDict[str, Route] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, text: str, route: Route) -> None:
        with self._lock:
            key = _key(text)
            self._routes[key] = route
            self._routes.move_to_end(key)
            while len(self._routes) > self.size:
                self._routes.popitem(last=False)

    def route_of(self, messages: Messages) -> Route | None:
        """The route that answered the conversation's last assistant message, if this router gave it."""
        last = next((m for m in reversed(messages) if m["role"] == "assistant" and m.get("content")), None)
        if last is None:
            return None
        with self._lock:
            return self._routes.get(_key(last["content"]))


class FollowUp:
    """Keep a follow-up on the route of the turn it follows unless the deciding score is confident."""

    name = "follow-up"

    def __init__(self, turns: AnsweredTurns, policy: ThresholdPolicy, margin: float):
        self.turns, self.policy, self.margin = turns, policy, margin

    def decide(self, query: Query, route: Route) -> Verdict | None:
        before = self.turns.route_of(query.messages)
        score = query.scores.get("prefill-probe", query.scores.get("router"))
        if before is None or before == route or score is None:
            return None
        threshold = self.policy.threshold(query.cloud_share)
        if abs(score - threshold) >= self.margin:
            return Verdict(None, f"a follow-up of a turn answered on the {before}, re-routed: the score is "
                                 f"{abs(score - threshold):.3f} from the threshold (confident at {self.margin:g})")
        return Verdict(before, f"a follow-up of a turn answered on the {before}: it stays there (the score is "
                               f"within {self.margin:g} of the threshold)", score=score)
