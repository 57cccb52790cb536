"""Detectors of personal data and secrets in text, each validated where a checksum or grammar exists.

Every detector returns ``Entity`` spans (type, start, end) and never logs the values it finds. Types and the
group each belongs to (``GROUPS``): contact (``EMAIL``, ``PHONE``), payment (``CARD``: Luhn; ``IBAN``: mod 97),
national ID (``US_SSN``: the SSA's rules), network (``IP``: v4 and v6 parsed by ``ipaddress``), secret
(provider key prefixes, private-key blocks, JWTs, ``password: ...`` forms, long high-entropy tokens) and address
(``STREET_ADDRESS``: a house number, a street name and a street word or a postal line, a post-office box, or
what follows "my address is"). Phone numbers are parsed by ``phonenumbers`` (the ``privacy`` extra) in
international and national formats; without it a stricter pattern is used, and ``phone_backend()`` says which.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)

GROUPS = {
    "EMAIL": "contact", "PHONE": "contact", "CARD": "payment", "IBAN": "payment", "US_SSN": "national-id",
    "IP": "network", "SECRET": "secret", "STREET_ADDRESS": "address",
    "PERSON": "name", "ORGANIZATION": "name",  # found by the name tagger (name_tagger.py), not by a pattern
}
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "AU", "CA")


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int


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
_STREET_WORDS = (r"[Ss]treet|St|[Aa]venue|Ave|[Rr]oad|Rd|[Bb]oulevard|Blvd|[Ll]ane|Ln|[Dd]rive|Dr|[Cc]ourt|Ct|"
                 r"[Pp]lace|Pl|[Ss]quare|Sq|[Tt]errace|[Ww]ay|[Hh]ighway|Hwy|[Pp]arkway|Pkwy|[Cc]ircle|Cir|[Tt]rail|"
                 r"[Cc]rescent|[Cc]lose|[Gg]rove|[Gg]ardens|[Rr]ow|[Hh]ill|[Vv]iew|[Pp]ark|[Ww]alk")
_UNIT = r"(?:[\s,]+(?:[Aa]pt|[Aa]partment|[Ss]uite|Ste|[Uu]nit|[Ff]loor|Fl|#)\.?\s*[\w-]+)?"
_STREET = re.compile(  # "742 Evergreen Terrace", "12 High St. Apt 4": a number, capitalised name words, a street word
    rf"\b\d{{1,6}}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){{1,4}}(?:{_STREET_WORDS})\b\.?{_UNIT}")
_COMPOUND = (r"katu|tie|kuja|strasse|straße|str\.|gasse|weg|allee|platz|ring|damm|vej|gade|laan|straat|gata|gatan|"
             r"vägen|veien|gate|utca|ulica|tee")
_STREET_FIRST = re.compile(  # "Koskikatu 25", "Hauptstraße 5 Apt. 2": the street word ends the name, then the number
    rf"\b[A-ZÄÖÜÅØÆ][\w'-]*(?:{_COMPOUND})\s+\d{{1,5}}[A-Za-z]?\b{_UNIT}")
_STREET_PREFIX = re.compile(  # "Rua do Arenque 1634", "Via Roma 12", "Calle Mayor 5"
    rf"\b(?:Rua|Rue|Via|Viale|Calle|Avenida|Avda\.|Piazza|Plaza|Praça|Ulica|Strada|Carrer|Chemin|Boulevard)"
    rf"(?:\s+(?:[a-z]{{1,3}}|[A-Z][\w'-]*)){{1,4}},?\s+\d{{1,5}}[A-Za-z]?\b{_UNIT}")
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ŽΑ-ΩΆ-ΏА-ЯЁ"  # a capital in Latin, Greek or Cyrillic script
_NAME_BETWEEN_NUMBERS = re.compile(  # "20789 Allika 46", "450 Præstevænget 15", "10252 Μεγάλη Άμμος 184"
    rf"\b\d{{3,6}}[ \t]+(?:[{_UPPER}][^\W\d_]+[ \t]+){{1,3}}\d{{1,4}}[A-Za-z]?\b\.?{_UNIT}")
_DISTINCT_COMPOUND = re.compile(  # "hersnapvej 18": suffixes no ordinary word ends with, any case
    rf"\b[^\W\d_]+(?:vej|gade|katu|straße|strasse|gasse|gatan|vägen|veien|straat|laan|stræde)\s+\d{{1,5}}"
    rf"[A-Za-z]?\b{_UNIT}", re.IGNORECASE)
_STREET_AFTER_NAME = re.compile(  # "Villacher Strasse 89", "Király u. 15.", "Erzsébet tér 19."
    rf"\b[{_UPPER}][^\W\d_]*\s+(?:Strasse|Straße|Str\.|Allee|Gasse|Weg|Platz|Ring|Damm|u\.|utca|út|tér|körút|"
    rf"ulica|ul\.)\s+\d{{1,5}}[A-Za-z]?\b\.?{_UNIT}")
_MILITARY = re.compile(  # "PSC 0413, Box 8144 APO AA 42323", "Unit 4719 Box 7394 DPO AP 70942"
    r"\b(?:(?:PSC|Unit|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}(?:\s+[ADF]PO\s+A[AEP]\s+\d{5})?|[ADF]PO\s+A[AEP]\s+\d{5})\b")
_PO_BOX = re.compile(  # "P.O. Box 104", "PO Box 12", "Postfach 10 01 23", "Apartado de correos 7"
    r"(?i)\b(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box|Postfach|Apartado(?:\s+de\s+correos)?|Case\s+postale)"
    r"\s*\d{1,6}(?:\s\d{2}){0,2}\b")
_ADDRESS_CUE = re.compile(  # "his address: …", "my home address is …", "lives at …"
    r"(?i)\b(?:(?:my|his|her|their|our|your|home|mailing|postal|shipping|billing|delivery|street)\s+address"
    r"(?:\s+(?:is|was|will\s+be))?\s*:?|(?<![\w-]\s)address\s*:|(?:lives?|living|resides?|residing)\s+at)\s+")
_CLAUSE = re.compile(r"[^\n;!?@+]{3,60}?(?=\.(?:\s|$)|[\n;!?@+]|$)|[^\n;!?@+]{3,60}")
_HOUSE_NUMBER = re.compile(r"(?<![\d.,:/-])\d{1,5}[A-Za-z]?(?![\d.,:/-]?\d)")
_POSTAL_LINE = re.compile(  # "…, Springfield, IL 62704", "…, 75008 Paris"
    r"\b\d{1,6}\s+[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,4},?\s*\n?\s*[A-Z][\w .'-]+,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")

_PLACE_WORD = r"[^\W\d_](?:[^\W\d_'’()-]|\.(?=[^\W\d_]))*(?!\w)"  # "Graz", "St.Gallen", "Kędzierzyn-Koźle"
_ENVELOPE_PART = re.compile(  # what may follow a street on an envelope: a unit or box, a place, a postal code
    r"(?:[ \t]*[,>;\n][ \t]*|[ \t]+)(?:"
    r"(?P<unit>(?:[Aa]pt|[Aa]partment|[Ss]uite|Ste|[Uu]nit|[Ff]lat|[Ff]loor|Fl|[Rr]oom|P\.?\s?O\.?\s?[Bb]ox|[Bb]ox|#)"
    r"\.?\s*[\w-]{1,6}\b)"
    r"|(?P<postcode>(?:\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3}|\d{3}[ ]\d{2}|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})(?![\w-]))"
    rf"|(?P<place>{_PLACE_WORD}(?:[ \t]{_PLACE_WORD}){{0,3}}))")
_ENVELOPE_PARTS = 8  # the most parts an address's tail may take


def address_end(text: str, end: int) -> int:
    """Where the street address ending at ``end`` really ends: over the units, places and postal code that follow
    it on its envelope ("… Suite 170  Graz  Austria 8010", "…, 10115 Berlin"), when that tail ends in a unit, a
    postal code or the capitalised town right after one (a place alone after a street may start the next
    clause)."""
    last, position, after_postcode = end, end, False
    for _ in range(_ENVELOPE_PARTS):
        m = _ENVELOPE_PART.match(text, position)
        if m is None:
            break
        position = m.end()
        if m.group("unit") or m.group("postcode"):
            last = position
        elif after_postcode:  # the town: the capitalised words that open the place
            for word in re.finditer(r"\S+", m.group("place")):
                if not word.group()[0].isupper():
                    break
                last = m.start("place") + word.end()
        after_postcode = bool(m.group("postcode"))
    return last


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


def _overlaps_any(start: int, end: int, entities: list[Entity]) -> bool:
    return any(e.start < end and start < e.end for e in entities)


def street_addresses(text: str) -> Iterator[Entity]:
    found = [Entity("STREET_ADDRESS", m.start(), m.end())
             for pattern in (_STREET, _STREET_FIRST, _STREET_PREFIX, _NAME_BETWEEN_NUMBERS, _DISTINCT_COMPOUND,
                             _STREET_AFTER_NAME, _MILITARY, _POSTAL_LINE, _PO_BOX) for m in pattern.finditer(text)]
    yield from found
    yield from _cued_addresses(text, found)


def _cued_addresses(text: str, found: list[Entity]) -> Iterator[Entity]:
    """What follows "my address is", "address:" or "lives at", where no street pattern found an address: from a
    capital or a digit to its clause's last number ("Leon and Eyrarodda 66"), or to the clause's first comma when
    its one number opens it ("12 Quux Gardens"), then over its envelope's tail (``address_end``). The streets no
    grammar above knows; a clause with no number and no word of three letters is not one."""
    for cue in _ADDRESS_CUE.finditer(text):
        clause = _CLAUSE.match(text, cue.end())
        if clause is None or not (clause.group()[0].isdigit() or clause.group()[0].isupper()):
            continue
        numbers = list(_HOUSE_NUMBER.finditer(clause.group()))
        if not numbers or not re.search(r"[^\W\d_]{3}", clause.group()):
            continue
        value = clause.group()
        if len(numbers) == 1 and numbers[0].start() == 0:
            value = value.split(",")[0].rstrip(" .")
        else:
            value = value[:numbers[-1].end()]
        start = clause.start()
        end = address_end(text, start + len(value))
        if not _overlaps_any(start, end, found):
            yield Entity("STREET_ADDRESS", start, end)


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
        if not _overlaps_any(m.start(), m.end(), streets):
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


# In order of precedence where spans overlap: checksum- and grammar-validated types before looser ones.
DETECTORS: dict[str, Callable[[str], Iterator[Entity]]] = {
    "IBAN": ibans, "CARD": cards, "US_SSN": ssns, "EMAIL": emails, "SECRET": secrets, "IP": ips, "PHONE": phones,
    "STREET_ADDRESS": street_addresses,
}


def detect(text: str, types: tuple[str, ...] | None = None) -> list[Entity]:
    """Every entity of ``types`` (default: all) in ``text``, overlaps resolved (the earlier type in ``DETECTORS``
    wins, then the longer span), sorted by position."""
    found = [e for name, detector in DETECTORS.items() if types is None or name in types for e in detector(text)]
    return with_address_tails(text, without_overlaps(found, precedence))


_RANK = {name: i for i, name in enumerate(DETECTORS)}


def precedence(entity: Entity) -> tuple[int, int, int]:
    """Which of two overlapping entities stays: a type earlier in ``DETECTORS`` (checksum- and grammar-validated
    first; types no pattern finds after them), then the longer span, then the earlier."""
    return _RANK.get(entity.type, len(_RANK)), -(entity.end - entity.start), entity.start


def with_address_tails(text: str, entities: list[Entity]) -> list[Entity]:
    """``entities`` (overlaps resolved) with each street address taken over its envelope's tail
    (``address_end``): a name there (the tagger's, a type no pattern finds) is dropped, as a town is nobody's
    name; a tail that reaches any other entity is not taken."""
    out = list(entities)
    for address in [e for e in out if e.type == "STREET_ADDRESS"]:
        if not any(e is address for e in out):
            continue  # in the tail of an address before it
        end = address_end(text, address.end)
        inside = [e for e in out if e is not address and e.start < end and e.end > address.end]
        if end > address.end and all(e.type not in DETECTORS for e in inside):
            out = [Entity(address.type, address.start, end) if e is address else e for e in out if e not in inside]
    return out


def without_overlaps(entities: list[Entity], precedence: Callable[[Entity], Any] | None = None) -> list[Entity]:
    """``entities`` with overlaps resolved: taken in ``precedence`` order (default: the longer span first), each
    kept when it overlaps none kept before; sorted by position."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=precedence or (lambda e: (-(e.end - e.start), e.start))):
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
