"""Everything a privacy policy looks for in a text: the pattern detectors and the name tagger together.

``Scanner.scan`` returns the pattern detectors' entities of the policy's trigger types and, when the policy
uses the tagger, every name and street address the tagger finds (names are reported even where they do not
trigger the policy; ``PrivacyPolicy.types`` says which do). Overlaps are resolved as ``detect`` resolves them
(``detectors.precedence``: the validated pattern types first); spans of one type that overlap are merged, so a
value found by both is covered whole, and a street address takes the units, places and postal code after it on
its envelope (``detectors.with_address_tails``), so a city there is not taken for a name. The tagger reads the token
states of the router's own encoder pass where the caller has them, else it makes a pass of its encoder (the
router's embedder when it is the encoder the tagger was trained on, else the default one) and remembers the spans
for the next turns of a conversation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .detectors import detect, precedence, with_address_tails
from .name_tagger import NameTagger
from .policy import PrivacyPolicy
from .spans import Entity, resolved

_CACHE_SIZE = 512
_default_lock = threading.Lock()
_defaults: dict[str, Any] = {}


def _default(part: str) -> Any:
    """The shipped tagger (``tagger``) or the default encoder (``encoder``), each loaded once per process."""
    with _default_lock:
        if part not in _defaults:
            if part == "tagger":
                _defaults[part] = NameTagger()
            else:
                from ..backends.embedder import Embedder

                _defaults[part] = Embedder()
        return _defaults[part]


class Scanner:
    """``policy``'s detectors over texts; ``embedder`` is the router's, reused by the tagger when it is the
    encoder the tagger was trained on (else the tagger makes its own passes with that one)."""

    def __init__(self, policy: PrivacyPolicy, embedder: Any = None):
        self.policy = policy
        self._tagger: NameTagger | None = _default("tagger") if policy.tagger else None
        self.shares_encoder = (self._tagger is not None and bool(getattr(embedder, "has_token_states", False))
                               and getattr(embedder, "id", None) == self._tagger.embedder_id)
        self._embedder = embedder if self.shares_encoder else None
        self._tagged: OrderedDict[str, list[Entity]] = OrderedDict()
        self._lock = threading.Lock()

    def _parts(self) -> tuple[Any, NameTagger]:
        if self._tagger is None:
            self._tagger = _default("tagger")
        if self._embedder is None:
            self._embedder = _default("encoder")  # only when the router's cannot serve
        return self._embedder, self._tagger

    def scan(self, text: str, first: Any = None, *, reuse: bool = True) -> list[Entity]:
        """The entities in ``text``. ``first`` is the token states of its first window from the router's pass
        (this scanner's encoder), when the caller made one: the tagger reads it and passes over the rest only.
        Without it the tagger makes its own passes, and with ``reuse`` takes the spans it found for the same text
        before (an older turn of a conversation)."""
        found = detect(text, self.policy.pattern_types)
        if self.policy.tagger:
            found += self._names(text, first, reuse)
        return with_address_tails(text, resolved(found, precedence))

    def _names(self, text: str, first: Any, reuse: bool) -> list[Entity]:
        embedder, tagger = self._parts()
        if first is not None:  # the router's pass: the head alone, well under a millisecond for one window
            return tagger.find(text, embedder.token_states(text, first=first))
        with self._lock:
            if reuse and text in self._tagged:
                self._tagged.move_to_end(text)
                return self._tagged[text]
        found = tagger.find(text, embedder.token_states(text))
        with self._lock:
            self._tagged[text] = found
            while len(self._tagged) > _CACHE_SIZE:
                self._tagged.popitem(last=False)
        return found

    @property
    def encoder(self) -> Any:
        """The encoder whose token states ``scan`` accepts."""
        return self._parts()[0]

    @property
    def tagger(self) -> NameTagger:
        return self._parts()[1]

