"""Street addresses: a house number and a street's name with its street word, in the orders of many countries'
grammars ("742 Evergreen Terrace", "Koskikatu 25", "Via Roma 12", "64, rue Pauline Munoz", "ul. Długa 90/4"), a
postal line, a post-office box, or what follows "my address is"; and the envelope's tail after a street (units,
places, a postal code)."""

from __future__ import annotations

import re
from typing import Iterator

from .spans import Entity, overlaps_any

_UPPER = "A-ZÀ-ÖØ-ÞĀ-ŽΑ-ΩΆ-ΏА-ЯЁ"  # a capital in Latin, Greek or Cyrillic script


def _words(*words: str) -> str:
    """An alternation of ``words``, each also with a lowercase first letter."""
    return "|".join(f"[{w[0]}{w[0].lower()}]{re.escape(w[1:])}" if w[0].isupper() else re.escape(w) for w in words)


# The street words that end an English street's name: the USPS's standard suffixes (Publication 28) and their
# abbreviations, and the British and Australian ones.
_STREET_WORDS = _words(
    "Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Court", "Place", "Square", "Terrace", "Way",
    "Highway", "Parkway", "Circle", "Trail", "Crescent", "Close", "Grove", "Gardens", "Row", "Hill", "View", "Park",
    "Walk") + (  # these in any case; the rest, and plurals, capitalised only ("The views", "the point")
    r"|(?:Street|Avenue|Road|Lane|Drive|Court|Place|Square|Terrace|Circle|Trail|Crescent|Grove|Garden|Hill|View|Walk|"
    r"Alley|Arcade|Bend|Burg|Bypass|Causeway|Circuit|Colonnade|Cove|Crossing|Esplanade|Estate|Expressway|"
    r"Freeway|Gateway|Glen|Green|Harbou?r|Height|Hollow|Junction|Knoll|Landing|Loop|Manor|Meadow|Mew|Motorway|"
    r"Orchard|Oval|Parade|Pike|Plaza|Promenade|Quay|Ridge|Rise|Spur|Stravenue|Trace|Turnpike|Underpass|Vale|"
    r"Valley|Viaduct|Vista|Wharf|Wynd|Lodge|Tarn|Chase|Glade|Grange|Nook|Retreat|Corner|Mount|Mountain|Point|"
    r"Shoal|Roadway|Ramble|Gate|Crossroad|Ford|Fork|Forge|Mill|Pass|Pine|Prairie|Radial|Ranch|Shore|Stream|Track|"
    r"Ville|Cliff|Creek|Crest|Dale|Extension|Haven|Inlet|Overpass|Path|Skyway|Throughway|Port|"
    r"Village|Ferry|Island|Isle|Station|Mission|Field|Lake|Spring|Block|Reach|Brow|Curve|Key|Light|Lock|Forest|Edge)s?"
    r"|St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Sq|Hwy|Pkwy|Cir|Expy|Fwy|Tpke|Marg|Nagar|Ganj|Chowk")  # the last four: India
_UNIT = (r"(?:[\s,]+(?:(?:[Aa]pt|[Aa]partment|[Aa]ppartamento|[Ss]uite|Ste|[Uu]nit|[Ff]loor|Fl|[Pp]iso|[Pp]uerta|"
         r"Depto|Dpto|Edif)\b\.?|(?:Bl|Sc|Ap|m)\.|#)\s*[\w-]+)*")  # "Apt. 4", "Piso 6", "Bl. 50 Sc. 9 Ap. 66"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:/\d{1,4}[A-Za-z]?)?\b"  # "12", "12b", "33/78" (a flat in the house)
_STREET = re.compile(  # "742 Evergreen Terrace", "12 High St. Apt 4": a number, capitalised name words, a street word
    rf"\b\d{{1,6}}[A-Za-z]?,?[ \t]+(?:[A-Z][\w'.-]*\s+){{1,4}}(?:{_STREET_WORDS})\b\.?{_UNIT}")
_COMPOUND = (r"katu|tie|kuja|polku|kaari|bulevardi|väylä|raitti|strasse|straße|str\.|gasse|weg|allee|platz|ring|"
             r"damm|vej|gade|laan|straat|pad|steeg|kade|singel|gracht|plein|dijk|gata|gatan|vägen|torget|torg|gränd|"
             r"stigen|baan|veien|vegen|gate|stien|plassen|bakken|utca|ulica|tee|"
             r"-(?:Straße|Strasse|Platz|Allee|Gasse|Weg|Ring|Damm|Ufer|Chaussee|Pfad|Steig)")
_STREET_FIRST = re.compile(  # "Koskikatu 25", "Hauptstraße 5 Apt. 2": the street word ends the name, then the number
    rf"\b[A-ZÄÖÜÅØÆ][\w'-]*(?:{_COMPOUND})\s+{_NUMBER}{_UNIT}")
# Street words that open the name, the number after it, as in the Romance and Slavic languages: in any case where
# no ordinary English word is spelt so, else capitalised only ("Via Roma 12", not "via Route 66").
_TYPE_ANY_CASE = _words(
    "Calle", "C/", "Avenida", "Avda.", "Paseo", "Pasaje", "Camino", "Carretera", "Travesía", "Glorieta", "Callejón",
    "Cañada", "Alameda", "Rambla", "Prolongación", "Calzada", "Circuito", "Privada", "Andador", "Cerrada",
    "Retorno", "Peatonal", "Periférico", "Carrer", "Passeig", "Plaça", "Avinguda", "Viale", "Piazza", "Piazzale",
    "Vicolo", "Strada", "Contrada", "Rotonda", "Lungomare", "Rua", "Travessa", "Praça", "Estrada", "Rodovia",
    "Ladeira", "Calçada", "Rue", "Boulevard", "Chemin", "Impasse", "Allée", "Quai", "Faubourg", "Ruelle", "Ulica",
    "Ul.", "Aleja", "Al.", "Pl.", "Plac", "Osiedle", "Os.", "Str.", "Bulevardul", "Calea", "Aleea", "Șoseaua",
    "Soseaua", "Piața", "Piata", "Splaiul", "Intrarea", "Drumul", "Ул.", "Улица", "Пр.", "Просп.", "Проспект",
    "Пер.", "Переулок", "Ш.", "Шоссе", "Наб.", "Набережная", "Пл.", "Площадь", "Бульвар", "Проезд", "Οδός",
    "Λεωφ.", "Λεωφόρος", "Πλ.", "Πλατεία", "Алл.", "Аллея", "Urbanización", "Circunvalación")
_TYPE_CAPITALISED = (r"Via|Vial|Acceso|Corredor|Diagonal|Ronda|Plaza|Corso|Largo|Borgo|Stretto|Incrocio|Salita|"
                     r"Vico|Beco|Viela|Vila|Quadra|Avenue|Av\.?|Bd\.?|Cuesta|Canale|Eje\s+vial|C\.(?=\s+de)")
_NAME_WORD = (rf"(?:[{_UPPER}][\w'.-]*|d'|l'|de|del|la|las|los|el|do|da|dos|das|di|della|dello|dei|degli|delle|"
              rf"du|des|le|les|e|y|i)")
_STREET_PREFIX = re.compile(  # "Rua do Arenque 1634", "Via Roma 12", "al. Rejtana 5" (not "et al. Nature 12")
    rf"(?<![\w.])(?<!\bet\s)(?:{_TYPE_ANY_CASE}|{_TYPE_CAPITALISED})(?:(?<=[./])\s*|\s+)"
    rf"{_NAME_WORD}(?:(?:\s+|(?<='))(?:{_NAME_WORD})){{0,4}},?\s+"
    rf"(?:(?:Nr|nr|No|no|n|nº|Nº|n°|д)\.?\s*)?(?:{_NUMBER}|S/N|s/n){_UNIT}")
_FRENCH_TYPES = _words("Rue", "Avenue", "Boulevard", "Chemin", "Impasse", "Allée", "Quai", "Faubourg", "Ruelle", "Voie",
                       "Sentier", "Montée")
_STREET_NUMBER_FIRST = re.compile(  # "64, rue Pauline Munoz", "12 bis avenue de la République"
    rf"\b\d{{1,5}}(?:\s?(?:bis|ter|[A-Za-z]))?,?\s+(?:{_FRENCH_TYPES})"
    rf"(?:\s+(?:de\s+la|de\s+l'|d'|l'|de|du|des|la|le))?\s*[{_UPPER}][\w'-]*(?:\s+[{_UPPER}][\w'-]*){{0,3}}")
_NAME_BETWEEN_NUMBERS = re.compile(  # "20789 Allika 46", "450 Præstevænget 15", "10252 Μεγάλη Άμμος 184"
    rf"\b\d{{3,6}}[ \t]+(?:[{_UPPER}][^\W\d_]+[ \t]+){{1,3}}\d{{1,4}}[A-Za-z]?\b\.?{_UNIT}")
_DISTINCT_COMPOUND = re.compile(  # "hersnapvej 18": suffixes no ordinary word ends with, any case
    rf"\b[^\W\d_]+(?:vej|gade|katu|straße|strasse|gasse|gatan|vägen|veien|straat|laan|stræde)\s+\d{{1,5}}"
    rf"[A-Za-z]?\b{_UNIT}", re.IGNORECASE)
_STREET_AFTER_NAME = re.compile(  # "Villacher Strasse 89", "Kaalunds Allé 7", "Bratislavska cesta 7"
    rf"\b[{_UPPER}][^\W\d_]*(?:[\s-]+[{_UPPER}][^\W\d_]*){{0,2}}\s+(?:Strasse|Straße|Str\.|Allee|Allé|Gasse|Weg|"
    rf"Platz|Ring|Damm|Plads|Torv|ulica|ul\.|cesta|trg|steza|"
    rf"námestie|náměstí|třída|nábřeží)\s+{_NUMBER}\.?{_UNIT}")
_HUNGARIAN = re.compile(  # "Árpád fejedelem útja 3.", "Ady Endre utca 209.": a title's words may be lowercase
    rf"\b[{_UPPER}][^\W\d_]*(?:\s+[^\W\d_]+){{0,2}}\s+(?:utca|útja|út|tér|tere|körút|köz|sor|fasor|rakpart|"
    rf"sétány|u\.)\s+\d{{1,4}}[A-Za-z]?\b\.?(?:/[A-Za-z\d]+)?")
_MILITARY = re.compile(  # "PSC 0413, Box 8144 APO AA 42323", "Unit 4719 Box 7394 DPO AP 70942", "fpo ae 44941"
    r"\b(?:(?:PSC|Unit|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}(?:\s+[ADF]PO\s+A[AEP]\s+\d{5})?|"
    r"(?i:[ADF]PO\s+A[AEP])\s+\d{5})\b")
_PO_BOX = re.compile(  # "P.O. Box 104", "PO Box 12", "Postfach 10 01 23", "Apartado de correos 7"
    r"(?i)\b(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box|Postfach|Apartado(?:\s+de\s+correos)?|Case\s+postale)"
    r"\s*\d{1,6}(?:\s\d{2}){0,2}\b")
_ADDRESS_CUE = re.compile(  # "his address: …", "my home address is …", "the address of X is …", "lives at …"
    r"(?i)\b(?:(?:my|his|her|their|our|your|home|mailing|postal|shipping|billing|delivery|street)\s+address"
    r"(?:\s+(?:is|was|will\s+be))?\s*:?|(?<![\w-]\s)address\s*:|"
    r"(?<!IP\s)(?<!mail\s)(?<!memory\s)(?<!web\s)(?<!MAC\s)(?<!return\s)address\s+of\s+[^\n.,;:]{3,60}?\s+is|"
    r"(?:lives?|living|resides?|residing)\s+at)\s+")
_CLAUSE = re.compile(r"[^\n;!?@+]{3,60}?(?=\.(?:\s|$)|[\n;!?@+]|$)|[^\n;!?@+]{3,60}")
_HOUSE_NUMBER = re.compile(r"(?<![\d.,:/-])\d{1,5}[A-Za-z]?(?![\d.,:/-]?\d)(?!\w)")
_POSTAL_LINE = re.compile(  # "…, Springfield, IL 62704", "…, 75008 Paris"
    r"\b\d{1,6}\s+[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,4},?\s*\n?\s*[A-Z][\w .'-]+,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")
_FORMS = (_STREET, _STREET_FIRST, _STREET_PREFIX, _STREET_NUMBER_FIRST, _NAME_BETWEEN_NUMBERS, _DISTINCT_COMPOUND,
          _STREET_AFTER_NAME, _HUNGARIAN, _MILITARY, _POSTAL_LINE, _PO_BOX)

_PLACE_WORD = r"[^\W\d_](?:[^\W\d_'’()-]|[.-](?=[^\W\d_]))*(?!\w)"  # "Graz", "St.Gallen", "Kędzierzyn-Koźle"
_POSTCODE = (  # "8010", "10115", "H-1215", "00-950", "730 21", "22003-322", "682001", "ΤΚ 72200", "SW1A 1AA",
    # "K1A 0B1", "7573 IG"
    r"(?:(?:[A-Z]{1,2}-|Τ\.?Κ\.?\s?)?(?:\d{4,6}(?:-\d{3,4})?|\d{2}-\d{3}|\d{3}[ ]\d{2}|\d{8})"
    r"|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d|\d{4}[ ]?[A-Z]{2})(?![\w-])")
_AFTER_POSTCODE = re.compile(rf"[,\n][ \t]*{_POSTCODE}$")  # a span that ends in its postal code on its own
_LONGEST_POSTCODE = 20  # characters, its separator before it included: where to look for one
_ENVELOPE_UNIT = (r"(?:[Aa]pt|[Aa]partment|[Ss]uite|Ste|[Uu]nit|[Ff]lat|[Ff]loor|Fl|[Rr]oom|P\.?\s?O\.?\s?[Bb]ox|"
                  r"[Bb]ox|#)\.?\s*[\w-]{1,6}\b")
_UNIT_ON_LINE = re.compile(rf"(?<!\w){_ENVELOPE_UNIT}")
_ENVELOPE_PART = re.compile(  # what may follow a street on an envelope: a unit or box, a place, a postal code
    r"(?:[ \t]*[,>;\n][ \t]*(?:>[ \t]*)?|[ \t]+)(?:"  # a new line may open with a quote's ">"
    rf"(?P<unit>{_ENVELOPE_UNIT})"
    rf"|(?P<postcode>{_POSTCODE})"
    rf"|(?P<place>{_PLACE_WORD}(?:[ \t]{_PLACE_WORD}){{0,3}}(?:[ \t]\({_PLACE_WORD}\))?))")  # "Cyprus (Greek)"
_ENVELOPE_PARTS = 8  # the most parts an address's tail may take
_CLOSE = re.compile(r"[ \t]*(?:[.!?](?=\s|$)|\n|$)")  # the end of a sentence or a line


def address_end(text: str, end: int) -> int:
    """Where the street address ending at ``end`` really ends: over the units, places and postal code that follow
    it on its envelope ("… Suite 170  Graz  Austria 8010", "…, 10115 Berlin"), when that tail ends in a unit, a
    postal code, the capitalised town right after one, or capitalised places that close the sentence or the line
    after a unit or a comma ("… Apt. 289 Mogyorósbánya Hungary", "…, Leeds."); a place alone after a street in
    running text may start the next clause ("… Main St Paris is lovely")."""
    last, position = end, end
    after_postcode = _AFTER_POSTCODE.search(text, max(0, end - _LONGEST_POSTCODE), end) is not None
    for _ in range(_ENVELOPE_PARTS):
        m = _ENVELOPE_PART.match(text, position)
        if m is None:
            break
        position = m.end()
        if m.group("unit") or m.group("postcode"):
            last = position
        elif after_postcode:  # the town: the capitalised words that open the place
            for word in re.finditer(r"\S+", m.group("place")):
                if not word.group().lstrip("(")[:1].isupper():  # "Tarvisio (UD)"
                    break
                last = m.start("place") + word.end()
        after_postcode = bool(m.group("postcode"))
    after_unit = last > end or _UNIT_ON_LINE.search(text, text.rfind("\n", 0, end) + 1, end) is not None
    if position > last and _CLOSE.match(text, position) and _closing_places(text[last:position], after_unit):
        last = position
    return last


def _closing_places(tail: str, after_unit: bool) -> bool:
    """Whether ``tail``, places only, closes an envelope: every word capitalised, after a unit or a postal code
    on its line, or after the street with a comma, ``>`` or a new line first."""
    words = re.findall(r"[^\W\d_][^\s,>;()]*", tail)
    return (all(w[0].isupper() for w in words)
            and (after_unit or tail.lstrip(" \t")[:1] in (",", ">", ";", "\n")))


def street_addresses(text: str) -> Iterator[Entity]:
    if not any(c.isdigit() for c in text):
        return  # every form above, and a cued address, holds a number
    found = [Entity("STREET_ADDRESS", m.start(), m.end()) for pattern in _FORMS for m in pattern.finditer(text)]
    yield from found
    yield from _cued_addresses(text, found)


def _cued_addresses(text: str, found: list[Entity]) -> Iterator[Entity]:
    """What follows "my address is", "address:", "the address of X is" or "lives at", where no street pattern
    found an address: from a capital or a digit to its clause's last number ("Leon and Eyrarodda 66"), or to the
    clause's first comma when its one number opens it ("12 Quux Gardens"), then over its envelope's tail
    (``address_end``). The streets no grammar above knows; a clause with no number and no word of three letters
    is not one."""
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


