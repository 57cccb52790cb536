"""Personal data and secrets: detectors, the privacy stage's modes, redaction that is restored, and the guarantee
that a kept query never reaches a cloud on any path."""

from __future__ import annotations

import pytest

from edge_router import EdgeRouter
from edge_router.errors import ConfigurationError, LocalModelError, PrivacyError
from edge_router.privacy.detectors import detect
from edge_router.privacy.policy import PrivacyPolicy, Rule
from edge_router.privacy.redaction import Redaction
from edge_router.routing.decision import CLOUD, LOCAL
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter

LONG = " It is a long question, so the length router would send it to the cloud."  # score > 0.5


def types_in(text: str) -> set[str]:
    return {e.type for e in detect(text)}


@pytest.mark.parametrize("text, kind", [
    ("Email john.smith@example.com about it", "EMAIL"),
    ("Call me at +1 (415) 555-2671 tomorrow", "PHONE"),
    ("Ruf mich an: 030 12345678", "PHONE"),
    ("My card is 4111 1111 1111 1111", "CARD"),
    ("Pay to DE89 3704 0044 0532 0130 00 please", "IBAN"),
    ("My SSN is 078-05-1120", "US_SSN"),
    ("The server at 192.168.10.4 is down", "IP"),
    ("ping 2001:db8::8a2e:370:7334", "IP"),
    ("client = OpenAI(api_key='sk-live-abcdefghijklmnop1234')", "SECRET"),
    ("password: hunter2hunter2", "SECRET"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "SECRET"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "SECRET"),
    ("I live at 742 Evergreen Terrace, Springfield", "STREET_ADDRESS"),
])
def test_each_detector_finds_its_entity(text, kind):
    assert kind in types_in(text)


@pytest.mark.parametrize("text", [
    "Who wrote Romeo and Juliet?",
    "What is 4111 + 1111?",
    "The card number 4111 1111 1111 1112 fails the Luhn check",  # not a valid card
    "My SSN is 000-12-3456",                                        # area 000 is never issued
    "In 1492 Columbus sailed the ocean blue.",
    "Version 1.2.3.4 of the library",
    "Natalia sold clips to 48 of her friends in April.",
])
def test_no_false_alarm_on_ordinary_text_and_invalid_numbers(text):
    assert not types_in(text) - {"PHONE"} or text.startswith("Version"), types_in(text)
    assert "CARD" not in types_in(text) and "US_SSN" not in types_in(text)


@pytest.mark.parametrize("text", [
    "Order status: +1-449-254-9026x73043",           # a fictional North American number, with an extension
    "Her details: (415) 555-0134, second floor",      # the 3-3-4 grouping, no cue word
    "Back office +44 28 9018 4700 (UK)",              # an international number no region validates
    "Ring 66193451 if the parcel is late",            # a bare run of digits after a word that means a phone
    "Details: 504 940 326, ask for the manager.",     # nine digits in three groups, no cue word
    "Our Helsinki desk: +358 914177763",              # "+", a country calling code, digits no region validates
    "Fax +49 (0) 30 901820 please",                   # the trunk prefix written "(0)"
    "Sent from my registered 668 5702 yesterday",     # a local number: three digits and four
    "They're not answering at 99 668472",             # an area code and a subscriber number, no cue word
    "Try 3500268466 or (26)/018-1590 tonight",        # a bare run of ten digits; a Hungarian grouping
    "Her line in Madrid: +34 872363387",              # nine digits after a calling code: not a US SSN
    "Die Nummer 1698, bitte",                         # Germany's shortest valid numbers have four digits
])
def test_phone_numbers_by_shape_and_by_cue(text):
    assert types_in(text) == {"PHONE"}, "not taken for a card number either"


@pytest.mark.parametrize("text", [
    "The number 10000000 has eight digits.",          # "number" alone does not make a run of digits a phone
    "Which is least? A. 0.25 B. 1.6 C. 1.0",
    "Call it 3.14159 and move on; the answer is 2718281.",  # after "call", but no phone's digit count or shape
    "The review moved to 2024-06-21 at 10:30.",               # a date's groups are not a phone's
    "x = +1234567, y = +12 apples",                           # "+" and too few digits
    "Convert 1001 0011 from binary; is 1000000000 a power of ten?",  # too few distinct digits for a phone
])
def test_numbers_that_are_not_phones(text):
    assert "PHONE" not in types_in(text)


@pytest.mark.parametrize("text, address", [
    ("Send it to Hauptstraße 5  Apt. 3  BERLIN  Germany 10115 by Friday.",
     "Hauptstraße 5  Apt. 3  BERLIN  Germany 10115"),                       # unit, town, country, postal code
    ("Our office: 742 Evergreen Terrace, Springfield, OR 97403.", "742 Evergreen Terrace, Springfield, OR 97403"),
    ("Koskikatu 25, 00100 Helsinki, where I work", "Koskikatu 25, 00100 Helsinki"),  # the town after its code
    ("Koskikatu 25, 00100 Helsinki, Finland", "Koskikatu 25, 00100 Helsinki, Finland"),  # places ending the line
    ("Write to 10 Downing Street, London SW1A 2AA.", "10 Downing Street, London SW1A 2AA"),
    ("I live at 12 Main Street, Bob said hi", "12 Main Street"),  # a place alone after it is not taken
    ("Ship to 5 Main St, Box 12, call 555 1234 later", "5 Main St, Box 12"),  # nor a phone number
    ("Send it to Koskikatu 25 Apt. 4 Tampere Finland", "Koskikatu 25 Apt. 4 Tampere Finland"),  # places end the line
    ("Koskikatu 25 Apt. 4 Tampere is where I live", "Koskikatu 25 Apt. 4"),  # not when the sentence goes on
    ("Is it 25 Cromwell Street, Gloucester?", "25 Cromwell Street, Gloucester"),  # after a comma, ending the line
    ("Meet me at 12 High Street Paris is lovely", "12 High Street"),
    (">Koskikatu 25\n>Suite 377\n>TAMPERE\n>Finland 33100", "Koskikatu 25\n>Suite 377\n>TAMPERE\n>Finland 33100"),
    ("Kossuth utca 64., H-1215 Tótfalva", "Kossuth utca 64., H-1215 Tótfalva"),      # a country's letters first
    ("Ul. Długa 5, 47-200 Kędzierzyn-Koźle? Yes", "Ul. Długa 5, 47-200 Kędzierzyn-Koźle"),  # to the sentence's end
    ("5 Deborah Estate Apt. 3\nStephensshire, NB J3S 7L3", "5 Deborah Estate Apt. 3\nStephensshire, NB J3S 7L3"),
    ("Piazza Giacobbe, 62\n17054, Boissano (SV)", "Piazza Giacobbe, 62\n17054, Boissano (SV)"),  # the province
    ("Écrivez au 18, rue Manon Roux\n20215 Lelièvre", "18, rue Manon Roux\n20215 Lelièvre"),  # two forms joined
])
def test_a_street_address_takes_the_rest_of_its_envelope(text, address):
    found = [text[e.start:e.end] for e in detect(text) if e.type == "STREET_ADDRESS"]
    assert found == [address]


@pytest.mark.parametrize("text, address", [
    ("The bus station is on P.O. Box 104", "P.O. Box 104"),
    ("Postfach 10 01 23, Berlin", "Postfach 10 01 23, Berlin"),
    ("Postfach 10 01 23, Berlin is closed", "Postfach 10 01 23"),
    ("He gave me his address: 049 Langeskov-Centret 83", "049 Langeskov-Centret 83"),  # a street no grammar knows
    ("My address is Leon and Eyrarodda 66, see you.", "Leon and Eyrarodda 66"),          # to the clause's last number
    ("She lives at 12 Quux, Springfield.", "12 Quux, Springfield"),                      # its one number opens it
    ("My home address is 12 Quux Gardens, 10115 Berlin.", "12 Quux Gardens, 10115 Berlin"),
    ("Ship to 370 3911 Fourth Avenue Suite 697", "3911 Fourth Avenue Suite 697"),  # "370 3911" is no phone
])
def test_a_post_box_and_an_address_named_as_one(text, address):
    assert [text[e.start:e.end] for e in detect(text) if e.type == "STREET_ADDRESS"] == [address]


@pytest.mark.parametrize("text, address", [
    ("Envíalo a C/ Mayor 5, por favor.", "C/ Mayor 5"),                               # the street word first
    ("Paseo de Joaquín Feliu 98 Piso 6", "Paseo de Joaquín Feliu 98 Piso 6"),
    ("Vicolo Ansaldo, 870 Appartamento 12", "Vicolo Ansaldo, 870 Appartamento 12"),
    ("Mieszkam przy ul. Długa 90/4 w Krakowie.", "ul. Długa 90/4"),                  # any case, a flat number
    ("Bulevardul Toma Nr. 19 Bl. 50 Sc. 9 Ap. 66", "Bulevardul Toma Nr. 19 Bl. 50 Sc. 9 Ap. 66"),
    ("Доставка: ул. Новгородская, д. 7/5", "ул. Новгородская, д. 7/5"),
    ("Écrivez au 64, rue Pauline Munoz.", "64, rue Pauline Munoz"),                 # the number first
    ("Bianca-Bolander-Platz 42, bitte", "Bianca-Bolander-Platz 42"),
    ("Bratislavska cesta 7 je zaprta", "Bratislavska cesta 7"),
    ("It is on Árpád fejedelem útja 3. in Budapest", "Árpád fejedelem útja 3."),       # a title's lowercase word
    ("sent to uscgc aslakhanov | fpo ae 44941?", "fpo ae 44941"),                     # a military post office
    ("Ship it to 8114 Miller Walks today", "8114 Miller Walks"),                      # a USPS suffix
    ("The address of Acme Ltd is Leon and Eyrarodda 66, then.", "Leon and Eyrarodda 66"),
])
def test_street_addresses_in_many_countries_grammars(text, address):
    assert [text[e.start:e.end] for e in detect(text) if e.type == "STREET_ADDRESS"] == [address]


@pytest.mark.parametrize("text", [
    "Mr. Lucci put together 5 bags. He put 19 black pens and 12 red.",
    "Wendy wants to place 20 more than double the number.",
    "Since the 1996 World Food Summit, how has it changed?",
    "—Port Huron Statement, 1962\nThe Port Huron Statement was",  # a year, then the next line
    "The address of the function is 0x7fff.",
    "Smith et al. 2005 found it",
    "As Jones et al. Science 2005 showed",  # "al." opens a Polish avenue, but not after "et"
    "Lord of the Ring 5 is out",
])
def test_words_and_numbers_that_are_no_address(text):
    assert "STREET_ADDRESS" not in types_in(text)


@pytest.mark.parametrize("text", [
    "The memory address is 1000.", "Her email address is 12 characters long.",
    "The owl lives at the top of the hill with 3 chicks.", "My address is john@example.com",
])
def test_a_cue_without_an_address_after_it_finds_none(text):
    assert "STREET_ADDRESS" not in types_in(text)


def test_a_town_in_an_address_is_not_taken_for_a_name():
    from edge_router.privacy.detectors import with_address_tails
    from edge_router.privacy.spans import Entity

    text = "Ship to Hauptstraße 5, 10115 Berlin today, Anna"
    tagged = [Entity("STREET_ADDRESS", 8, 21), Entity("ORGANIZATION", 29, 35), Entity("PERSON", 43, 47)]
    found = with_address_tails(text, tagged)
    assert [(e.type, text[e.start:e.end]) for e in found] == [("STREET_ADDRESS", "Hauptstraße 5, 10115 Berlin"),
                                                              ("PERSON", "Anna")]


def test_an_address_tail_joins_the_taggers_address_in_it():
    from edge_router.privacy.detectors import with_address_tails
    from edge_router.privacy.spans import Entity

    text = "Koskikatu 25\nSuite 377\nTAMPERE\nFinland 33100"
    tagged = [Entity("STREET_ADDRESS", 0, 22), Entity("ORGANIZATION", 23, 30), Entity("STREET_ADDRESS", 31, 44)]
    assert with_address_tails(text, tagged) == [Entity("STREET_ADDRESS", 0, 44)]


def test_overlaps_resolved_by_type_then_joined():
    from edge_router.privacy.detectors import precedence
    from edge_router.privacy.spans import Entity, resolved

    street, longer, phone = Entity("STREET_ADDRESS", 0, 20), Entity("STREET_ADDRESS", 15, 40), Entity("PHONE", 35, 40)
    assert resolved([street, longer, phone], precedence) == [street, phone]  # the phone wins; the street stays
    assert resolved([street, longer], precedence) == [Entity("STREET_ADDRESS", 0, 40)]


def _router(cloud=None, local=None, **kwargs) -> EdgeRouter:
    return EdgeRouter(local=local or FakeLocal(n_ctx=50), cloud=cloud or FakeCloud(), router=FakeRouter(),
                      embedder=FakeEmbedder(), max_tokens=10, **kwargs)


def test_keep_local_is_the_default_and_records_types_never_values():
    cloud = FakeCloud()
    router = _router(cloud)
    answer = router.chat("Email john.smith@example.com that the meeting moved." + LONG)
    decision = answer.decision
    assert answer.route == LOCAL and decision.mode == "privacy" and decision.privacy == ("EMAIL",)
    assert "john" not in decision.reason and "john" not in str(decision.to_dict())
    assert [s["name"] for s in decision.stages][0] == "privacy"
    assert router.chat("What is the capital of France?" + LONG).route == CLOUD, "no personal data: routed"
    assert cloud.calls == 1


def test_a_kept_query_never_reaches_the_cloud_on_any_path():
    cloud = FakeCloud()
    secret = "My SSN is 078-05-1120." + LONG
    router = _router(cloud, local=FakeLocal(n_ctx=50, fail=True))
    with pytest.raises(LocalModelError):
        router.chat(secret)                                   # a local failure is not sent out
    with pytest.raises(LocalModelError):
        list(router.stream(secret))
    with pytest.raises(PrivacyError, match="cannot be forced to the cloud"):
        router.chat(secret, force="cloud")
    too_long = " ".join(["word"] * 45) + " 078-05-1120"
    with pytest.raises(Exception, match="keeps it on the device"):
        _router(cloud).chat(too_long)                          # too long for the device: refused, not sent
    with pytest.raises(PrivacyError, match="no local model"):
        EdgeRouter(cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder()).chat(secret)
    assert cloud.calls == 0


class RecordingCloud(FakeCloud):
    """Answers with the placeholders it was sent, as a cloud model would repeat them."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def chat(self, messages, *, max_tokens, sampling=None):
        from edge_router.backends.completions import Completion

        self.seen.append(messages[-1]["content"])
        return Completion(f"I wrote to {messages[-1]['content'].split()[2]} for you.", "stop", self.id, None, 0.0)

    def stream(self, messages, *, max_tokens, sampling=None):
        from edge_router.testing import FakeStream

        self.seen.append(messages[-1]["content"])
        placeholder = messages[-1]["content"].split()[2]
        return FakeStream(f"Sent to {placeholder[:4]}{placeholder[4:]} now", self.id)


def test_redact_sends_placeholders_and_restores_the_answer_in_chat_and_stream():
    cloud = RecordingCloud()
    router = _router(cloud, privacy=PrivacyPolicy(mode="redact"))
    prompt = "Please email jane.doe@example.org the report." + LONG
    answer = router.chat(prompt)
    assert answer.route == CLOUD and answer.decision.privacy == ("EMAIL",)
    assert "jane.doe" not in cloud.seen[-1] and "<EMAIL_1>" in cloud.seen[-1]
    assert answer.text == "I wrote to jane.doe@example.org for you."
    stream = router.stream(prompt)
    text = "".join(stream)
    assert "jane.doe" not in cloud.seen[-1] and text == "Sent to jane.doe@example.org now"
    assert stream.answer.text == text


def test_a_placeholder_split_across_streamed_pieces_is_restored():
    redaction = Redaction()
    placeholder = redaction.placeholder("PHONE", "+1 415 555 2671")
    pieces = ["Call ", placeholder[:3], placeholder[3:7], placeholder[7:], " now, or <b>not</b>"]
    assert "".join(redaction.restore_stream(pieces)) == "Call +1 415 555 2671 now, or <b>not</b>"
    assert redaction.placeholder("PHONE", "+1 415 555 2671") == placeholder, "the same value, the same name"


def test_off_and_the_apps_rules():
    cloud = FakeCloud()
    assert _router(cloud, privacy=PrivacyPolicy(mode="off")).chat("My SSN is 078-05-1120." + LONG).route == CLOUD
    rules = (Rule("diary", "keep-local", keywords=("diary",)), Rule("project", "redact", pattern=r"Project \w+"),
             Rule("public", "cloud", keywords=("press release",)))
    router = _router(cloud, privacy=PrivacyPolicy(rules=rules))
    kept = router.route("Summarise my diary entry." + LONG)
    assert kept.route == LOCAL and kept.privacy == ("rule:diary",)
    redacted = router.route("What should Project Falcon do next?" + LONG)
    assert redacted.route == CLOUD and redacted.privacy == ("rule:project",)
    allowed = router.route("Fix this press release: call 415-555-2671." + LONG)
    assert allowed.route == CLOUD and "rule:public" in allowed.privacy
    with pytest.raises(ConfigurationError, match="exactly one"):
        Rule("bad", "keep-local")
    with pytest.raises(ConfigurationError, match="unknown privacy trigger"):
        PrivacyPolicy(triggers=("blood-type",))


def test_the_triggers_pick_the_entity_types_that_keep_a_query_local():
    router = _router(privacy=PrivacyPolicy(triggers=("payment",)))
    assert router.route("Email john.smith@example.com now." + LONG).route == CLOUD
    assert router.route("My card is 4111 1111 1111 1111." + LONG).route == LOCAL


def test_labelling_never_sends_personal_data_to_the_strong_endpoint(tmp_path):
    from edge_router.data.datasets import Prompt
    from edge_router.training.labels import LabelConfig, label_prompts
    from edge_router.uncertainty.clustering import ExactMatchClusterer

    class Strong(RecordingCloud):
        def chat(self, messages, *, max_tokens, temperature=None, sampling=None):
            return super().chat(messages, max_tokens=max_tokens)

        def sample(self, messages, k, *, temperature, max_tokens):
            from edge_router.backends.completions import Sample

            self.seen.append(messages[-1]["content"])
            return [Sample("Paris", (-0.1,))] * k

    prompts = [Prompt("mine", 0, "Email jane.doe@example.org: what is the capital of France?", ("Paris",), "qa"),
               Prompt("mine", 1, "What is the capital of France?", ("Paris",), "qa")]
    for mode, labelled in (("keep-local", 1), ("redact", 2)):
        strong = Strong()
        summary = label_prompts(prompts, tmp_path / f"{mode}.jsonl", weak=FakeLocal(), strong=strong,
                                clusterer=ExactMatchClusterer(), config=LabelConfig(k=2, privacy=mode),
                                progress=False)
        assert summary["labelled"] == labelled and summary["private"] == 2 - labelled
        assert not any("jane.doe" in text for text in strong.seen)


def test_a_topic_rule_matches_on_the_real_embedding(embedder):
    rules = (Rule("health", "keep-local", examples=("my medical diagnosis and treatment",
                                                    "the symptoms of my illness")),)
    from edge_router.routing.privacy_stage import PrivacyStage
    from edge_router.routing.stages import Query

    stage = PrivacyStage(PrivacyPolicy(rules=rules), local_available=True, embedder=embedder)
    health = stage.decide(Query([{"role": "user", "content": "What do the symptoms of my illness mean for my "
                                                             "treatment?"}], 10), "local")
    assert health is not None and health.route == LOCAL and health.fields["privacy"] == ("rule:health",)
    assert stage.decide(Query([{"role": "user", "content": "What is the capital of France?"}], 10), "local") is None
