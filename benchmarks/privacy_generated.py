"""Phone numbers and street addresses as Faker writes them in many locales, in sentences with no cue word: a check
of the patterns independent of Presidio's evaluation sentences (which they were partly tuned on).

For each value: whether the patterns found an entity of its type overlapping it, and whether the scanner (the
patterns and the name tagger, as the default policy runs them) would keep the sentence on the device. For whole
addresses (street, town, postal code, on an envelope's lines or joined by commas): whether one street-address span
covers all of it, which is what redaction needs. Needs ``faker`` (the ``train-names`` or ``dev`` extra); both
measures return ``None`` without it.
"""

from __future__ import annotations

import random
from typing import Any

from edge_router.privacy.detectors import detect
from edge_router.privacy.scanner import Scanner

PHONE_LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "da_DK", "fi_FI",
                 "sv_SE", "pl_PL", "pt_BR", "hu_HU", "ja_JP")
ADDRESS_LOCALES = ("en_US", "en_GB", "en_AU", "en_CA", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CH", "it_IT",
                   "es_ES", "es_MX", "pt_PT", "pt_BR", "nl_NL", "da_DK", "sv_SE", "no_NO", "fi_FI", "pl_PL", "cs_CZ",
                   "sk_SK", "hu_HU", "ro_RO", "hr_HR", "sl_SI", "el_GR", "ru_RU", "tr_TR")
FRAMES = ("Send it to {} please.", "The parcel went to {} yesterday", "{}", "We met at {}, then left.",
          "Is {} far from here?", "Write down {} before you forget.")
PER_LOCALE = {"PHONE": 200, "STREET_ADDRESS": 100}
ENVELOPE_FRAMES = ("Send it to {} please.", "{}", "My address:\n{}\nThanks", "Ship to {}")
ENVELOPES_PER_LOCALE = 60
SEED = 17


def measure(scanner: Scanner) -> dict[str, Any] | None:
    """Per type and locale: values, found by the patterns, kept on the device by ``scanner``."""
    try:
        from faker import Faker
    except ImportError:
        return None
    rng = random.Random(SEED)
    out: dict[str, Any] = {}
    for kind, locales, make in (("PHONE", PHONE_LOCALES, lambda f: f.phone_number()),
                                ("STREET_ADDRESS", ADDRESS_LOCALES, lambda f: f.street_address())):
        by_locale = {}
        for locale in locales:
            fake = Faker(locale)
            fake.seed_instance(SEED)
            found = kept = 0
            for _ in range(PER_LOCALE[kind]):
                value = " ".join(make(fake).split())
                text = rng.choice(FRAMES).format(value)
                start = text.index(value)
                end = start + len(value)
                found += any(e.type == kind and e.start < end and start < e.end for e in detect(text))
                kept += any(e.type in scanner.policy.types for e in scanner.scan(text))
            by_locale[locale] = {"values": PER_LOCALE[kind], "found": found, "kept": kept}
        values = sum(c["values"] for c in by_locale.values())
        out[kind] = {"values": values, "found": sum(c["found"] for c in by_locale.values()) / values,
                     "kept": sum(c["kept"] for c in by_locale.values()) / values, "by_locale": by_locale}
    return out


def measure_envelopes(scanner: Scanner) -> dict[str, Any] | None:
    """Per locale: Faker's whole addresses (half on their lines, half joined by commas), and how many one street
    address span covers whole, from the patterns alone and from the scanner."""
    try:
        from faker import Faker
    except ImportError:
        return None
    rng = random.Random(SEED)
    by_locale = {}
    for locale in ADDRESS_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(SEED)
        patterns = scanned = 0
        for i in range(ENVELOPES_PER_LOCALE):
            lines = [line.strip() for line in fake.address().splitlines() if line.strip()]
            value = ", ".join(lines) if i % 2 else "\n".join(lines)
            text = rng.choice(ENVELOPE_FRAMES).format(value)
            start = text.index(value)
            end = start + len(value)
            patterns += _covered(detect(text), start, end)
            scanned += _covered(scanner.scan(text), start, end)
        by_locale[locale] = {"values": ENVELOPES_PER_LOCALE, "patterns": patterns, "scanner": scanned}
    values = len(ADDRESS_LOCALES) * ENVELOPES_PER_LOCALE
    return {"values": values, "patterns": sum(c["patterns"] for c in by_locale.values()) / values,
            "scanner": sum(c["scanner"] for c in by_locale.values()) / values, "by_locale": by_locale}


def _covered(found: list, start: int, end: int) -> bool:
    return any(e.type == "STREET_ADDRESS" and e.start <= start and e.end >= end for e in found)
