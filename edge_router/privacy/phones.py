"""Phone numbers: ``phonenumbers`` (the ``privacy`` extra) in international and national formats, shapes that are
phone numbers wherever they stand, and numbers after a word like "phone"; without the library a stricter pattern
is used, and ``phone_backend()`` says which."""

from __future__ import annotations

import logging
import re
from typing import Iterator

from .addresses import street_addresses
from .spans import Entity, overlaps_any

log = logging.getLogger(__name__)
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "AU", "CA")

# No valid number in any region has fewer digits (Germany's shortest has 4; with a "+" and a calling code, 6),
# nor has any shape below (7 at least).
_FEWEST_DIGITS = 4
_DIGIT = re.compile(r"\d")  # what the library reads as a digit: any script's
_phone_backend: str | None = None


def phone_backend() -> str:
    """``phonenumbers`` when the library is installed, else ``pattern`` (logged once)."""
    global _phone_backend
    if _phone_backend is None:
        try:
            import phonenumbers  # noqa: F401

            _phone_backend = "phonenumbers"
        except ImportError:
            _phone_backend = "pattern"
            log.warning("phonenumbers is not installed (pip install 'edge-router[privacy]'): phone numbers are "
                        "detected by a stricter pattern, which misses some national formats")
    return _phone_backend


_PHONE_PATTERN = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}"
                            r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?!\w)")


_PHONE_CUE = re.compile(r"(?i)\b(?:phone|telephone|tel|mobile|mob|cell|fax|call|calling|reach|ring|text|whatsapp|"
                        r"sms|dial|landline|hotline|number|contact)\b")
_STRONG_CUE = re.compile(r"(?i)(?:phone|tel|mob|cell|fax|call|reach|ring|text|whatsapp|sms|dial|line)")
_PHONE_SHAPED = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s./-]\d{2,4}){1,4}"
                           r"(?!\w)")
_DIGIT_RUN = re.compile(r"(?<![\w+])(?:\(?\+\d{1,3}\)?[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{7,15}(?!\w)")
# Shapes that are phone numbers wherever they stand: the North American grouping (3-3-4, an extension allowed),
# 8 to 12 digits in three to five groups of two to four (a date is not one), and an international number written
# with its "+" and a country calling code, 8 to 15 digits ("(0)" for the trunk prefix allowed).
_NANP = re.compile(r"(?<![\w+.])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
                   r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?![\w.]\d|\w)")
_GROUPED = re.compile(r"(?<![\w.,+/-])\(?\d{2,4}\)?(?:[ -]\d{2,4}){2,4}(?![\w.,/%-]?\d)(?![\w%])")
# National numbers with no cue word: "555 1234", "99 668472", "0026-140141", "(26)/018-1590", "9603 0824", and a
# bare run of ten digits (a mobile number); four distinct digits at least, so "1001 0011" and 1000000000 are not.
_LOCAL = re.compile(r"(?<![\w.,+/-])(?:\d{3}[ -]\d{4}|\(?\d{2,4}\)?[ /-]\d{6,8}|\(?\d{2}\)?/\d{3}[ -]\d{4}|"
                    r"\d{4}[ .]\d{4}|0?[1-9]\d{9})(?![\w.,/%-]?\d)(?![\w%])")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4}")
_INTERNATIONAL = re.compile(r"(?<![\w+])\(?\+\d{1,3}\)?(?:[\s.-]?\(?\d{1,5}\)?){1,5}(?!\w)")


def _cued_phones(text: str) -> Iterator[Entity]:
    """Phone-shaped numbers (7 to 15 digits) within 60 characters after a word like "phone" or "call": the
    national formats that no region's rules validate. Runs of digits without separators only after a word that
    can mean nothing but a phone ("tel", "call", "ring", not "number"), and within 25 characters of it."""
    for cue in _PHONE_CUE.finditer(text):
        shapes = [(_PHONE_SHAPED, 60), *([(_DIGIT_RUN, 25)] if _STRONG_CUE.search(cue.group()) else [])]
        for shape, reach in shapes:
            for m in shape.finditer(text[cue.end():cue.end() + reach]):
                if 7 <= len(re.sub(r"\D", "", m.group())) <= 15:
                    yield Entity("PHONE", cue.end() + m.start(), cue.end() + m.end())


def _shaped_phones(text: str) -> Iterator[Entity]:
    """North American, local and other digit groupings, and "+" numbers with a country calling code (fictional
    numbers included)."""
    for m in _NANP.finditer(text):
        yield Entity("PHONE", m.start(), m.end())
    local = [m for m in _LOCAL.finditer(text) if len(set(re.sub(r"\D", "", m.group()))) >= 4]
    streets = list(street_addresses(text)) if local else []
    for m in local:  # the loosest shape: a unit and a house number ("Suite 370 3911 Fourth Avenue") stay the address's
        if not overlaps_any(m.start(), m.end(), streets):
            yield Entity("PHONE", m.start(), m.end())
    for m in _GROUPED.finditer(text):
        if 8 <= len(re.sub(r"\D", "", m.group())) <= 12 and not _DATE.fullmatch(m.group()):
            yield Entity("PHONE", m.start(), m.end())
    import phonenumbers

    for m in _INTERNATIONAL.finditer(text):
        digits = re.sub(r"\D", "", m.group().replace("(0)", ""))
        calling_code = any(phonenumbers.region_code_for_country_code(int(digits[:n])) != "ZZ" for n in (1, 2, 3))
        if calling_code and 8 <= len(digits) <= 15:
            yield Entity("PHONE", m.start(), m.end())


def phones(text: str, regions: tuple[str, ...] = DEFAULT_REGIONS) -> Iterator[Entity]:
    if len(_DIGIT.findall(text)) < _FEWEST_DIGITS:
        return  # most questions: nothing below can match, and the library's matcher is the costly part
    yield from _cued_phones(text)
    if phone_backend() == "pattern":
        for m in _PHONE_PATTERN.finditer(text):
            if len(re.sub(r"\D", "", m.group())) >= 7:
                yield Entity("PHONE", m.start(), m.end())
        return
    import phonenumbers

    yield from _shaped_phones(text)
    seen: set[tuple[int, int]] = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            if (match.start, match.end) not in seen:
                seen.add((match.start, match.end))
                yield Entity("PHONE", match.start, match.end)

