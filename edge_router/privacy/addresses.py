"""Street addresses: a house number, a street name and a street word or a postal line, a post-office box, or
what follows "my address is"; and the envelope's tail after a street (units, places, a postal code)."""

from __future__ import annotations

import re
from typing import Iterator

from .spans import Entity, overlaps_any

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




def street_addresses(text: str) -> Iterator[Entity]:
    if not any(c.isdigit() for c in text):
        return  # every form above, and a cued address, holds a number
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
        if not overlaps_any(start, end, found):
            yield Entity("STREET_ADDRESS", start, end)


