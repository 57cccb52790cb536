"""Detectors of personal data and secrets in text, each validated where a checksum or grammar exists.

Every detector returns ``Entity`` spans (type, start, end) and never logs the values it finds. Types and the
group each belongs to (``GROUPS``): contact (``EMAIL``, ``PHONE``: ``phones.py``), payment (``CARD``: Luhn;
``IBAN``: mod 97), national ID (``US_SSN``: the SSA's rules), network (``IP``: v4 and v6 parsed by
``ipaddress``), secret (provider key prefixes, private-key blocks, JWTs, ``password: ...`` forms, long
high-entropy tokens) and address (``STREET_ADDRESS``: ``addresses.py``).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from typing import Callable, Iterator

from .addresses import address_end, street_addresses
from .phones import phones
from .spans import Entity, resolved

GROUPS = {
    "EMAIL": "contact", "PHONE": "contact", "CARD": "payment", "IBAN": "payment", "US_SSN": "national-id",
    "IP": "network", "SECRET": "secret", "STREET_ADDRESS": "address",
    "PERSON": "name", "ORGANIZATION": "name",  # found by the name tagger (name_tagger.py), not by a pattern
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_CARD = re.compile(r"(?<![\d+-])(?:\d[ -]?){11,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_SECRET_PATTERNS = (
    re.compile(r"\b(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9_-]{16,}"),   # OpenAI, Stripe
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),         # GitHub
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),                                   # AWS access key id
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),                                  # Slack
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),                                       # Google API key
    re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|$)"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?i)\b(?:password|passwd|pwd|passcode|secret|api[_-]?key|token)\b\s*[:=]\s*['\"]?[^\s'\"]{4,}"),
)
_HIGH_ENTROPY = re.compile(r"(?<![\w/+=-])[A-Za-z0-9_\-+/=]{32,}(?![\w/+=-])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _entropy_bits(token: str) -> float:
    counts = Counter(token)
    return -sum(c / len(token) * math.log2(c / len(token)) for c in counts.values())


def emails(text: str) -> Iterator[Entity]:
    for m in _EMAIL.finditer(text):
        yield Entity("EMAIL", m.start(), m.end())


def cards(text: str) -> Iterator[Entity]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 12 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1:
            yield Entity("CARD", m.start(), m.end())


def ibans(text: str) -> Iterator[Entity]:
    for m in _IBAN.finditer(text):
        if _iban_valid(m.group()):
            yield Entity("IBAN", m.start(), m.end())


_AFTER_CALLING_CODE = re.compile(r"\(?\+\d{1,3}\)?[\s.-]?$")  # "+34 ", "(+358) ": what follows is a phone


def ssns(text: str) -> Iterator[Entity]:
    for m in _SSN.finditer(text):
        after_code = _AFTER_CALLING_CODE.search(text, max(0, m.start() - 8), m.start())
        if _ssn_valid(m.group(1), m.group(3), m.group(4)) and not after_code:
            yield Entity("US_SSN", m.start(), m.end())


def ips(text: str) -> Iterator[Entity]:
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if address.version == 6 and m.group().count(":") < 2:
                continue
            yield Entity("IP", m.start(), m.end())


def secrets(text: str) -> Iterator[Entity]:
    for pattern in _SECRET_PATTERNS:
        for m in pattern.finditer(text):
            yield Entity("SECRET", m.start(), m.end())
    for m in _HIGH_ENTROPY.finditer(text):
        token = m.group()
        classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
        if classes >= 3 and _entropy_bits(token) >= 4.0:
            yield Entity("SECRET", m.start(), m.end())


DETECTORS: dict[str, Callable[[str], Iterator[Entity]]] = {
    "IBAN": ibans, "CARD": cards, "US_SSN": ssns, "EMAIL": emails, "SECRET": secrets, "IP": ips, "PHONE": phones,
    "STREET_ADDRESS": street_addresses,
}


def detect(text: str, types: tuple[str, ...] | None = None) -> list[Entity]:
    """Every entity of ``types`` (default: all) in ``text``, overlaps resolved (``spans.resolved``: the earlier
    type in ``DETECTORS`` wins, then the longer span; spans of one type are joined), sorted by position."""
    found = [e for name, detector in DETECTORS.items() if types is None or name in types for e in detector(text)]
    return with_address_tails(text, resolved(found, precedence))


_RANK = {name: i for i, name in enumerate(DETECTORS)}


def precedence(entity: Entity) -> tuple[int, int, int]:
    """Which of two overlapping entities stays: a type earlier in ``DETECTORS`` (checksum- and grammar-validated
    first; types no pattern finds after them), then the longer span, then the earlier."""
    return _RANK.get(entity.type, len(_RANK)), -(entity.end - entity.start), entity.start


def with_address_tails(text: str, entities: list[Entity]) -> list[Entity]:
    """``entities`` (overlaps resolved) with each street address taken over its envelope's tail
    (``address_end``): a name there (the tagger's, a type no pattern finds) is dropped, as a town is nobody's
    name, and a street address there (the tagger's "Finland 41600") joins it; a tail that reaches any other
    entity is not taken."""
    out = list(entities)
    for address in [e for e in out if e.type == "STREET_ADDRESS"]:
        if not any(e is address for e in out):
            continue  # in the tail of an address before it
        end = address_end(text, address.end)
        inside = [e for e in out if e is not address and e.start < end and e.end > address.end]
        if end > address.end and all(e.type == address.type or e.type not in DETECTORS for e in inside):
            end = max([end, *(e.end for e in inside if e.type == address.type)])
            out = [Entity(address.type, address.start, end) if e is address else e for e in out if e not in inside]
    return out


