"""Synthetic sentences with labelled people's names, organisations and street addresses, for the name tagger.

Templates written for this project (messages, letters, support requests, news lines, forms) are filled with
fake values from Faker in fifteen locales, organisations also from word parts (``_organisation``: legal and trade
words, invented brands, institutions, acronyms); distractor slots (cities, upper-case towns, states, countries,
languages, nationalities, dates, jobs and job titles, products, sentences and words that start with a capital)
carry no label, so the tagger learns that a capitalised word is not a name by itself. Each sentence comes back
with its labelled character spans. Presidio's evaluation sentences are never read here: they measure the tagger.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

LOCALES = ("en_US", "en_GB", "en_AU", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "da_DK", "fi_FI", "sv_SE",
           "pt_BR", "pl_PL", "hu_HU", "en_IN")
LABELS = ("O", "PERSON", "ORGANIZATION", "STREET_ADDRESS")

TEMPLATES = (
    "My name is {PERSON} and I live at {ADDRESS}.",
    "Hi, this is {PERSON}. Could you send the invoice to {ADDRESS}?",
    "Please forward this to {PERSON} at {ORG}.",
    "{PERSON} from {ORG} called about the contract renewal.",
    "Dear {PERSON}, your package will be delivered to {ADDRESS} on {DATE}.",
    "Can you write a reference letter for {PERSON}? She worked with me at {ORG} for {NUMBER} years.",
    "I met {PERSON} and {PERSON} at the conference in {CITY}.",
    "Send the signed form to {ADDRESS}, attention {PERSON}.",
    "{PERSON} is the new {JOB} at {ORG}.",
    "Our office moved to {ADDRESS}.",
    "Ship it to {ADDRESS} please",
    "The deed lists the property at {ADDRESS} under the name {PERSON}.",
    "Draft an email to {PERSON} telling him the meeting moved to {TIME}.",
    "Summarise this complaint from {PERSON}: the order to {ADDRESS} never arrived.",
    "{ORG} has hired {PERSON} as its {JOB}.",
    "Translate into French: {PERSON} will visit {COUNTRY} next month.",
    "Who should I contact at {ORG}? I was told to ask for {PERSON}.",
    "Patient {PERSON}, born {DATE}, was referred by Dr. {LAST}.",
    "Mr. {LAST} lives on {STREET} near the {CITY} station.",
    "Ms. {LAST} asked whether {ORG} can extend the deadline.",
    "{FIRST}, can you pick up the kids at {TIME}?",
    "Thanks {FIRST}! See you at {ADDRESS}.",
    "The lease between {ORG} and {PERSON} ends on {DATE}.",
    "Write a birthday message for my colleague {PERSON}.",
    "{PERSON} ({JOB}, {ORG}) signed the agreement.",
    "Billing address: {ADDRESS}",
    "Address: {ADDRESS}\nName: {PERSON}",
    "Name: {PERSON}; employer: {ORG}; city: {CITY}",
    "i live at {ADDRESS_LOWER} can u check delivery times",
    "my boss {PERSON_LOWER} wants the report by {DAY}",
    "Can you check if {ORG} delivers to {STREET}?",
    "What is the best route from {ADDRESS} to {CITY} airport?",
    "{PERSON} wrote: 'I will transfer the money to {ORG} tomorrow.'",
    "Reminder: dinner with {PERSON} at {ORG} on {DAY}.",
    "The suspect, {PERSON}, was last seen near {ADDRESS}.",
    "According to {PERSON}, {ORG} will report earnings on {DATE}.",
    "Please update my mailing address to {ADDRESS}. Thank you, {PERSON}",
    "I am writing on behalf of {ORG} regarding your application, {FIRST}.",
    "Hello {PERSON}, your appointment at {ORG} is confirmed for {DATE}.",
    "{PERSON} and {PERSON} from {ORG} will join the call.",
    "Invoice #{NUMBER} for {ORG}, {ADDRESS}",
    "We visited {PERSON}'s house at {STREET} last weekend.",
    "The package for {PERSON} was left at {ADDRESS}.",
    "Is {ORG} a good place to work? My friend {FIRST} says so.",
    "Give me feedback on this cover letter to {ORG} from {PERSON}.",
    "Book a table for {PERSON} at {TIME}.",
    "{LAST} vs. {ORG}: summarise the court ruling.",
    "Contact person: {PERSON}, {ORG}, {ADDRESS}",
    "I work for {ORG}.", "{ORG}'s customer service never answered my email.", "My account at {ORG} was charged twice.",
    "I ordered a laptop from {ORG} last week.", "She studies at {ORG}.",
    "A spokesperson for {ORG} declined to comment.",
    "Has {ORG} released its annual report?", "Compare {ORG} and {ORG} as employers.",
    "{ORG} acquired {ORG} for ${NUMBER} million.", "Cancel my {ORG} subscription.", "Data provided by {ORG}.",
    # No labelled value: the tagger must leave these alone.
    "What is the capital of {COUNTRY}?",
    "How do I get from {CITY} to {CITY} by train?",
    "Explain how a {JOB} differs from a manager.",
    "Write a poem about {CITY} in spring.",
    "What was the population of {COUNTRY} in {YEAR}?",
    "Is {PRODUCT} a good choice for a small team?",
    "Convert {NUMBER} kilometres to miles.",
    "List three facts about the history of {COUNTRY}.",
    "A train leaves {CITY} at {TIME} and travels {NUMBER} km. When does it arrive?",
    "How many days are there between {DATE} and {DATE}?",
    "Which river flows through {CITY}?",
    "Fix this Python function that parses dates like {DATE}.",
    "What does a {JOB} earn in {COUNTRY}?",
    "My daughter turns {NUMBER} on {DAY}; any gift ideas?",
    "Why was my card ending in {NUMBER} declined at the store?",
    "I was born on {DATE} in {CITY}.",
    "The {TITLE} premiere is on {DATE} in {CITY}.",
    "Rate these genres: Drama, Comedy, Action & Adventure, Kids & Family.",
    "Our team uses {PRODUCT} and {PRODUCT} for the Q3 roadmap.",
    "The Senior {JOB_TITLE} role requires {NUMBER} years of experience.",
    "Is it true that {COUNTRY} drives on the left?",
    "Can I pay with a card from {COUNTRY} when I travel to {CITY}?",
    "Remind me to call the bank on {DAY} at {TIME}.",
    "{CITY} is the largest city in {STATE}.", "Where in {COUNTRY} is {CITY}?", "Weather in {CITY}, {STATE} today?",
    "{SENTENCE}", "{SENTENCE} {SENTENCE}", "{WORD} the {WORD} before {DAY}, please.",
    "Weather in {CITY_UPPER} tomorrow?", "{ZIP} {CITY_UPPER}", "Flights to {CITY_UPPER} are delayed.",
    "Translate this into {LANGUAGE}.", "Is {LANGUAGE} hard to learn for {LANGUAGE} speakers?",
    "The {NATIONALITY} team won the {WORD} Cup.", "{NATIONALITY} Border Guard", "Job title: {JOB_TITLE}",
    "We are hiring a {JOB_TITLE} in {CITY}.", "{JOB_TITLE} needed for the night shift.",
    "{WORD}: {WORD}\n{WORD}: {DATE}", "{WORD} Day is on {DATE}.", "Define {WORD}.", "What rhymes with {WORD}?",
    "{WORD}! That was close.", "I loved the song {WORD} {WORD}.", "Is {WORD} {WORD} a good band name?",
    "{PERSON}\n{ORG}\n{ADDRESS_BLOCK}\nPhone: {PHONE}",
    "{PERSON}\n{ADDRESS_BLOCK}",
    "From: {PERSON} <{EMAIL}>\nSubject: {TITLE}",
    "Directed by: {PERSON}\nGenre: Drama, Thriller",
    "\"{QUOTE}\", says {LAST}.",
    "Top-flight {SPORT} player {PERSON} won the final in {CITY}.",
    "{PERSON} was born in {CITY} and grew up in {COUNTRY}.",
    "Mrs. {LAST} is a {NUMBER} year old {JOB} who grew up in {CITY}.",
    "The {TITLE} tour by {PERSON} sold out in {CITY}.",
    "Shares of {ORG} rose after {PERSON} stepped down as chief executive.",
    "{ORG}, {ORG} and {ORG} are the biggest employers in {CITY}.",
    "Hey {FIRST_LOWER}, r u coming tonight?",
    "I'd like to call a taxi to {ADDRESS}. Please call me when you're here.",
    "What is your address? It is {ADDRESS}.",
    "The bus drops you off at {ADDRESS}.",
    "Hello I moved, please update my address to {ADDRESS}",
    "{PERSON} moved from {CITY}, {STATE} to {CITY} last year.",
    "The {ORG} office in {CITY}, {COUNTRY} is closed on {DAY}.",
    "We fly from {CITY} to {COUNTRY} with {PERSON} on {DATE}.",
    "{SENTENCE} {PERSON} will call you back.",
    "{SENTENCE} Regards, {PERSON}",
    # Capitalised words that are not names.
    "What should Project {CODENAME} do next?", "Operation {CODENAME} starts on {DAY}.",
    "Summarise the {CODENAME} Initiative's goals.", "Review the {CODENAME} Report before the meeting.",
    "Subject: {TITLE}", "Chapter {NUMBER}: The {CODENAME} Years", "The {CODENAME} Act was passed in {YEAR}.",
    "Explain the {CODENAME} Protocol in simple terms.", "Is the {CODENAME} Festival worth visiting?",
    "Write a haiku titled {TITLE}.", "Compare the {CODENAME} and {CODENAME} frameworks.",
    # Questions with numbers, units, formulas and lettered choices: no address, no name.
    "{STEM}\nA. {AMOUNT}\nB. {AMOUNT}\nC. {AMOUNT}\nD. {AMOUNT}\nAnswer:",
    "Balance the equation: {FORMULA} + {FORMULA} → {FORMULA} + {FORMULA}",
    "Her temperature is {NUMBER}°C, pulse is {NUMBER}/min and BMI is {NUMBER} kg/m2.",
    "If f(x) = {NUMBER}x^2 + {NUMBER}x - {NUMBER}, what is f({NUMBER})?",
    "Is the evidence admissible under Rule {NUMBER}(b)? Explain in {NUMBER} words.",
    "Which of these is a base?\nA. {FORMULA}\nB. {FORMULA}\nC. {FORMULA}\nD. {FORMULA}",
    "A {NUMBER} kg block slides {NUMBER} m down a {NUMBER}° slope. Find its speed.",
    "Model {CODENAME} {NUMBER}X costs ${NUMBER}; model {NUMBER}S costs ${NUMBER}.",
    "{FIRST} has {NUMBER} apples and gives {NUMBER} to {FIRST}. How many are left?",
    "{FIRST} earns ${NUMBER} an hour and works {NUMBER} hours a week. What does {FIRST_AGAIN} earn in a year?",
    # Numbers the pattern detectors own: no label here.
    "What is the limit for card {CARDNUM}?", "Call me at {PHONE} after {TIME}.", "SSN: {SSN}", "My IBAN is {IBAN}.",
    "ZIP: {ZIP}", "The server at {IP} is down again.", "Email me at {EMAIL} or visit {DOMAIN}.",
    "Order {NUMBER}-{NUMBER} shipped on {DATE}.", "Phone: {PHONE}\nFax: {PHONE}",
)
NEUTRAL = (
    "Thanks in advance.", "Can you help me with this?", "I need an answer by tomorrow.", "Please keep it short.",
    "How can I request a new PIN?", "Is my order on its way?", "Sorry for the late reply!", "This is urgent.",
    "I'm moving next month, so please cancel my subscription.", "What does the error code mean?",
    "My father retired last year.", "It has been like this since last week.", "The weather was awful.",
    "Let me know what you think.", "Any help is appreciated.", "See the attached file.", "OK, got it.",
    "The Big Red Barn is a children's book.", "We watched The Lord of the Rings again.", "Happy New Year!",
    "Please confirm the total.", "I think the answer is 42.", "Write it in a friendly tone.", "Use bullet points.",
)
LANGUAGES = ("English", "Finnish", "German", "Spanish", "Portuguese", "Danish", "Polish", "Hungarian", "Hindi",
             "Swedish", "Dutch", "Italian", "French", "Greek", "Japanese")
NATIONALITIES = ("English", "Finnish", "German", "Spanish", "Brazilian", "Danish", "Polish", "Hungarian", "Indian",
                 "Swedish", "Dutch", "Italian", "French", "Australian", "American")
# Organisations as they are written: companies with their legal or trade word, invented brands, acronyms and
# institutions (values made here from word parts and Faker's names, not taken from any evaluation set).
ORG_WORDS = ("Inc.", "Ltd", "LLC", "GmbH", "AG", "S.A.", "S.p.A.", "B.V.", "AB", "Oy", "plc", "Group", "Holdings",
             "Partners", "& Co.", "& Sons", "Associates", "Consulting", "Technologies", "Systems", "Solutions",
             "Labs", "Bank", "Insurance", "Pharmaceuticals", "Motors", "Airlines", "Foods", "Media", "Studios",
             "Capital", "Ventures", "Energy", "Logistics", "Services", "Software", "Analytics", "Networks", "Health",
             "Entertainment", "Reports", "Unlimited", "Service", "Care")
BRAND_ENDINGS = ("ly", "ify", "ica", "ware", "lytics", "graphy", "hub", "soft", "tech", "ex", "io", "ora", "ix",
                 "on", "base", "db", "web", "flow", "stack", "mart", "aware", "net", "gen", "ista")
INSTITUTIONS = ("University of {CITY}", "{CITY} University", "{CITY} General Hospital", "St. {FIRST}'s Hospital",
                "{CITY} City Council", "Bank of {COUNTRY}", "{CITY} Public Library", "{CITY} High School",
                "{CITY} Police Department", "{WORD} Foundation", "{CITY} FC", "{CITY} Chamber of Commerce",
                "Department of {FIELD}", "Ministry of {FIELD}", "{LAST} College", "Institute of {FIELD}",
                "{CITY} Museum of Art", "{WORD} Society", "{LAST} & {LAST}", "{WORD} {WORD} Service")
FIELDS = ("Health", "Education", "Finance", "Transport", "Agriculture", "Defence", "Justice", "Energy", "Labour",
          "Chemistry", "Technology", "Public Works")
PUBLIC_PEOPLE = ("Albert Einstein", "Marie Curie", "William Shakespeare", "Abraham Lincoln", "Isaac Newton",
                 "Ada Lovelace", "Napoleon Bonaparte", "Charles Darwin", "Jane Austen", "Leonardo da Vinci")
PUBLIC_TEMPLATES = (
    "Who was {PERSON}?", "When did {PERSON} die?", "Summarise the main ideas of {PERSON}.",
    "What did {PERSON} discover?", "Write an essay comparing {PERSON} and {PERSON}.",
)


@dataclass(frozen=True)
class Sentence:
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (label, start, end)


class Generator:
    """Sentences from the templates, values from Faker (``faker`` is needed to build the tagger, never at run
    time), reproducible from ``seed``."""

    def __init__(self, seed: int = 0):
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        for i, fake in enumerate(self.fakers.values()):
            fake.seed_instance(seed * 1000 + i)
        self.english = Faker("en_US")  # real states, and sentences of common words starting with a capital
        self.english.seed_instance(seed * 1000 + len(LOCALES))

    def _fake(self):
        return self.fakers[self.rng.choice(LOCALES)]

    def _person(self) -> str:
        fake, r = self._fake(), self.rng.random()
        if r < 0.6:
            return f"{fake.first_name()} {fake.last_name()}"
        if r < 0.75:
            return fake.name()
        if r < 0.85:
            return f"{fake.first_name()} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {fake.last_name()}"
        if r < 0.93:
            return fake.last_name()
        return fake.first_name()

    def _address(self) -> str:
        fake, r = self._fake(), self.rng.random()
        if r < 0.45:
            return fake.street_address()
        joiner = self.rng.choice((", ", "\n", " "))
        return fake.address().replace("\n", joiner)

    def _organisation(self, fake) -> str:
        r, word = self.rng.random(), lambda: self.english.word().title()
        if r < 0.4:
            return fake.company()
        if r < 0.6:
            return f"{self.rng.choice((fake.last_name(), word()))} {self.rng.choice(ORG_WORDS)}"
        if r < 0.72:  # an invented brand, one word: "Flightaware", "MysticWeb", "Zentrix Labs"
            brand = word() + self.rng.choice((self.english.word().title(), self.rng.choice(BRAND_ENDINGS)))
            return brand if self.rng.random() < 0.5 else f"{brand} {self.rng.choice(ORG_WORDS)}"
        if r < 0.87:
            slots = {"CITY": fake.city, "COUNTRY": fake.country, "FIRST": fake.first_name, "LAST": fake.last_name,
                     "WORD": word, "FIELD": lambda: self.rng.choice(FIELDS)}
            return re.sub(r"\{(\w+)\}", lambda m: slots[m.group(1)](), self.rng.choice(INSTITUTIONS))
        acronym = "".join(self.rng.choice("ABCDEFGHIJKLMNOPRSTUVWXZ") for _ in range(self.rng.randint(2, 5)))
        return acronym if self.rng.random() < 0.6 else f"{acronym} {self.rng.choice(ORG_WORDS)}"

    def _first_name(self, fake) -> str:
        self._first = fake.first_name()  # for {FIRST_AGAIN}: the same person later in the sentence
        return self._first

    def _value(self, slot: str) -> tuple[str, str | None]:
        fake = self._fake()
        labelled = {
            "PERSON": (self._person, "PERSON"), "PERSON_LOWER": (lambda: self._person().lower(), "PERSON"),
            "FIRST": (lambda: self._first_name(fake), "PERSON"),
            "FIRST_AGAIN": (lambda: getattr(self, "_first", fake.first_name()), "PERSON"),
            "FIRST_LOWER": (lambda: fake.first_name().lower(), "PERSON"), "LAST": (fake.last_name, "PERSON"),
            "ORG": (lambda: self._organisation(fake), "ORGANIZATION"), "ADDRESS": (self._address, "STREET_ADDRESS"),
            "ADDRESS_LOWER": (lambda: self._address().lower(), "STREET_ADDRESS"),
            "ADDRESS_BLOCK": (fake.address, "STREET_ADDRESS"), "STREET": (fake.street_name, "STREET_ADDRESS"),
        }
        if slot in labelled:
            make, label = labelled[slot]
            return make(), label
        plain = {"CITY": fake.city, "COUNTRY": fake.country, "DATE": lambda: fake.date(),
                 "TIME": lambda: fake.time("%H:%M"), "JOB": lambda: fake.job().lower(),
                 "NUMBER": lambda: str(self.rng.randint(2, 900)), "YEAR": fake.year, "DAY": fake.day_of_week,
                 "PRODUCT": lambda: self.rng.choice(("PostgreSQL", "Excel", "Kubernetes", "Notion", "Figma")),
                 "TITLE": lambda: fake.catch_phrase().title(), "JOB_TITLE": lambda: fake.job().title(),
                 "EMAIL": fake.email, "PHONE": fake.phone_number, "CARDNUM": fake.credit_card_number,
                 "SSN": fake.ssn, "IBAN": fake.iban, "ZIP": fake.postcode, "IP": fake.ipv4, "DOMAIN": fake.domain_name,
                 "STEM": lambda: self.rng.choice(("What is the value of x?", "How many moles are produced?",
                                                  "What is the pH of the solution?", "Which option is correct?")),
                 "AMOUNT": lambda: self.rng.choice((str(self.rng.randint(0, 99)), f"{self.rng.random() * 50:.2f}",
                                                    f"{self.rng.randint(1, 30)} in.", f"${self.rng.randint(1, 99)}m",
                                                    f"{self.rng.randint(1, 9)}*10^{self.rng.randint(2, 30)} J")),
                 "FORMULA": lambda: self.rng.choice(("H2O", "CO2", "NaCl", "C6H12O6", "NO2F", "Fe2O3", "NH3",
                                                     "C2H4O", "KOH", "H2SO4", "Ca(OH)2", "CH4")),
                 "CODENAME": lambda: fake.word().title(), "CITY_UPPER": lambda: fake.city().upper(),
                 "LANGUAGE": lambda: self.rng.choice(LANGUAGES),
                 "NATIONALITY": lambda: self.rng.choice(NATIONALITIES),
                 "STATE": lambda: self.english.state(), "SENTENCE": lambda: self.english.sentence(),
                 "WORD": lambda: self.english.word().title(),
                 "QUOTE": lambda: self.rng.choice(NEUTRAL),
                 "SPORT": lambda: self.rng.choice(("tennis", "chess", "golf", "snooker"))}
        return str(plain[slot]()), None

    def sentence(self) -> Sentence:
        if self.rng.random() < 0.05:
            template = self.rng.choice(PUBLIC_TEMPLATES)
            values = iter(self.rng.sample(PUBLIC_PEOPLE, 2))
            return self._fill(template, lambda slot: (next(values), "PERSON"))
        sentence = self._fill(self.rng.choice(TEMPLATES), self._value)
        r = self.rng.random()
        if r < 0.15:  # a neutral sentence before it
            prefix = self.rng.choice(NEUTRAL) + " "
            return Sentence(prefix + sentence.text, tuple((lab, a + len(prefix), b + len(prefix))
                                                         for lab, a, b in sentence.spans))
        if r < 0.3:
            return Sentence(sentence.text + " " + self.rng.choice(NEUTRAL), sentence.spans)
        if r < 0.35:
            return Sentence(self.rng.choice(NEUTRAL), ())
        return sentence

    def _fill(self, template: str, value) -> Sentence:
        text, spans, pos = "", [], 0
        for m in re.finditer(r"\{(\w+)\}", template):
            text += template[pos:m.start()]
            filled, label = value(m.group(1))
            if label:
                spans.append((label, len(text), len(text) + len(filled)))
            text += filled
            pos = m.end()
        text += template[pos:]
        if self.rng.random() < 0.05:
            text = text.lower()
        return Sentence(text, tuple(spans))

    def sentences(self, n: int) -> list[Sentence]:
        return [self.sentence() for _ in range(n)]
