"""People's and organisations' names (and street addresses) found by a small head over the encoder's token states.

The head (``models/privacy/name_tagger.onnx``, int8, with its card) reads each token's last hidden state from
the router's MiniLM pass, its neighbours' states, and a few surface features the uncased encoder cannot see
(capitals, digits, word pieces), and gives a probability per label (``LABELS``). Words sure enough of a label
(the file's threshold) start spans that grow over their likely neighbours (``spans_from_labels``). One pass of
the router's encoder serves both the routing embedding and the tagger (``TokenStates``); a text longer than the
encoder's window is read in windows. Values are never logged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptModelError
from ..files.onnx_session import create_session
from ..files.shipped import shipped
from .spans import Entity

LABELS = ("O", "PERSON", "ORGANIZATION", "STREET_ADDRESS")
SHIPPED_TAGGER = "privacy/name_tagger.onnx"
SURFACE_FEATURES = 8


def surface_features(text: str, encoding: Any) -> np.ndarray:
    """Per token: starts with a capital, all capitals, a word piece, holds a digit, punctuation only, a special
    token, and whether the tokens before and after start with a capital. ``float32[tokens, 8]``."""
    offsets = encoding.offsets
    n = len(offsets)
    out = np.zeros((n, SURFACE_FEATURES), np.float32)
    for i, (start, end) in enumerate(offsets):
        piece = text[start:end]
        if end <= start:
            out[i, 5] = 1.0
            continue
        word_start = i == 0 or encoding.word_ids[i - 1] != encoding.word_ids[i]
        out[i, 0] = float(piece[0].isupper())
        out[i, 1] = float(len(piece) > 1 and piece.isupper())
        out[i, 2] = float(not word_start)
        out[i, 3] = float(any(c.isdigit() for c in piece))
        out[i, 4] = float(not any(c.isalnum() for c in piece))
    out[1:, 6] = out[:-1, 0]
    out[:-1, 7] = out[1:, 0]
    return out


def token_inputs(text: str, states: Any) -> np.ndarray:
    """The head's input for one window: each token's state and surface features beside the states of the tokens
    before and after it (zeros at the window's ends), so a word is read with its neighbours (``Jordan`` after
    ``Dear``, or before ``River``)."""
    hidden = states.hidden.astype(np.float32)
    edge = np.zeros((1, hidden.shape[1]), np.float32)
    return np.concatenate([hidden, surface_features(text, states.encoding), np.vstack([edge, hidden[:-1]]),
                           np.vstack([hidden[1:], edge])], axis=1)


def input_width(hidden_width: int) -> int:
    """The head's input width over an encoder of ``hidden_width``."""
    return 3 * hidden_width + SURFACE_FEATURES


WEAK_THRESHOLD = 0.5  # a span grows over neighbouring words at least this likely to hold its label


def labels_from_probabilities(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Per token: the likeliest label other than ``O`` where the token's probability of holding one is at
    least ``threshold``, else ``O`` (0)."""
    best = probs[:, 1:].argmax(axis=1) + 1
    return np.where(1.0 - probs[:, 0] >= threshold, best, 0)


def spans_from_labels(strong: np.ndarray, weak: np.ndarray, text: str, encoding: Any) -> list[Entity]:
    """Character spans from per-token labels at a strong and a weak threshold: a word takes the label of its
    first labelled piece; a span starts at a word with a strong label and grows over the words next to it with
    the same weak label (``Maria`` sure, ``Lopez`` likely: one span). Punctuation neither starts nor ends a span
    but may join two words of one (``Apt. 4, Springfield``). Implausible spans are dropped (``_plausible``)."""
    bounds: dict[int, list[int]] = {}
    strong_label: dict[int, int] = {}
    weak_label: dict[int, int] = {}
    for i, word in enumerate(encoding.word_ids):
        if word is None:
            continue
        start, end = encoding.offsets[i]
        bounds.setdefault(word, [start, end])[1] = end
        if strong[i]:
            strong_label.setdefault(word, int(strong[i]))
        if weak[i]:
            weak_label.setdefault(word, int(weak[i]))
    words = [w for w in sorted(bounds) if any(c.isalnum() for c in text[bounds[w][0]:bounds[w][1]])]
    spans: list[Entity] = []
    taken = -1  # the last word index (in ``words``) inside a span
    for k, word in enumerate(words):
        label = strong_label.get(word, 0)
        if not label or k <= taken:
            continue
        first = k
        while first - 1 > taken and weak_label.get(words[first - 1]) == label:
            first -= 1
        last = k
        while last + 1 < len(words) and weak_label.get(words[last + 1]) == label:
            last += 1
        spans.append(Entity(LABELS[label], bounds[words[first]][0], bounds[words[last]][1]))
        taken = last
    return [e for e in spans if _plausible(e, text)]


_HOUSE_NUMBER = re.compile(r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?")


_FUNCTION_WORDS = frozenset(  # closed-class words: never a name on their own, capitalised or not
    "i a an the he she it we they you me him her us them my his its our their your this that these those what who "
    "whom which when where why how if and or but so yes no hi hello dear".split())
_HOST_BEFORE = re.compile(r"(?:www\.|https?://|@)$")  # "www.|Zentrix"
_HOST_PART = re.compile(r"(?<=[^\W_])\.[a-z]{2,}\b")  # "FarmerBuys|.com", "FarmerBuys.com"; not "J.Smith"


def _plausible(entity: Entity, text: str) -> bool:
    """A street address holds a house number and a word of three letters or more (capitalised where the text
    has capitals: not ``16,050 ppm``, ``C. 45`` or ``37°C``); a name holds a capital where the text has them, is
    not a function word alone ("I", "What") and is not part of a host name ("FarmerBuys.com")."""
    value = text[entity.start:entity.end]
    cased = any(c.isupper() for c in text)
    if entity.type == "STREET_ADDRESS":
        words = re.findall(r"[^\W_]+(?:[-/][^\W_]+)*", value)
        return (any(_HOUSE_NUMBER.fullmatch(w) for w in words)
                and any(len(w) >= 3 and w.isalpha() and (w[0].isupper() or not cased) for w in words))
    if value.strip(" .,").lower() in _FUNCTION_WORDS:
        return False
    if (_HOST_BEFORE.search(text, max(0, entity.start - 8), entity.start) or _HOST_PART.search(value)
            or _HOST_PART.match(text, entity.end)):
        return False
    return any(c.isupper() for c in value) or not cased


class NameTagger:
    """The token head, run on token states an ``Embedder`` made (``Embedder.token_states`` or a kept pass)."""

    def __init__(self, path: str | Path | None = None, *, threads: int | None = 1):
        path = Path(path) if path else shipped(SHIPPED_TAGGER)
        if path is None or not path.is_file():
            raise CorruptModelError(f"the name tagger's file {SHIPPED_TAGGER} is missing from edge_router_models; "
                                    "reinstall edge-router.")
        self.path = path
        self._session = create_session(path, threads=threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.embedder_id = meta.get("edge_router.embedder", "")
        self.labels = tuple(json.loads(meta.get("edge_router.labels", json.dumps(LABELS))))
        if self.labels != LABELS:
            raise CorruptModelError(f"{path}: its labels {self.labels} are not {LABELS}; pull the matching file.")
        self.threshold = float(meta.get("edge_router.threshold", 0.5))
        self.width = self._session.get_inputs()[0].shape[1]

    def probabilities(self, text: str, states: Any) -> np.ndarray:
        """``float32[tokens, len(LABELS)]`` for one window's states."""
        if self.width != input_width(states.hidden.shape[1]):
            raise CorruptModelError(f"{self.path} reads {self.width} values per token, not the "
                                    f"{input_width(states.hidden.shape[1])} this version gives it (its encoder's "
                                    "states, their neighbours' and the surface features): rebuild it with "
                                    "models/privacy/build.py.")
        return self._session.run(None, {"tokens": token_inputs(text, states)})[0]

    def find(self, text: str, windows: list[Any], threshold: float | None = None) -> list[Entity]:
        """Names and addresses in ``text`` from its windows' token states; a token is labelled where its
        probability of holding one is at least ``threshold`` (default: the one the file was built with)."""
        threshold = self.threshold if threshold is None else threshold
        found: list[Entity] = []
        for states in windows:
            probs = self.probabilities(text, states)
            found += spans_from_labels(labels_from_probabilities(probs, threshold),
                                       labels_from_probabilities(probs, min(threshold, WEAK_THRESHOLD)), text,
                                       states.encoding)
        return found
