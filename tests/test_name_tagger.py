"""The name tagger: span decoding (logic, on a hand-made encoding), the shipped int8 head on the real MiniLM, the
scanner that joins it to the pattern detectors, the privacy stage sharing the router's encoder pass, and a small
tagger built end to end from synthetic sentences."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_privacy import RecordingCloud

from edge_router import EdgeRouter
from edge_router.backends.embedder import Embedder
from edge_router.errors import ConfigurationError, CorruptModelError
from edge_router.privacy.name_tagger import (
    LABELS,
    SURFACE_FEATURES,
    NameTagger,
    input_width,
    labels_from_probabilities,
    spans_from_labels,
    token_inputs,
)
from edge_router.privacy.policy import PrivacyPolicy
from edge_router.privacy.scanner import Scanner
from edge_router.privacy.spans import Entity
from edge_router.routing.decision import CLOUD, LOCAL
from edge_router.testing import FakeCloud, FakeLocal, FakeRouter

PERSON, ORG, ADDRESS = (LABELS.index(t) for t in ("PERSON", "ORGANIZATION", "STREET_ADDRESS"))
LETTER = "Please send the contract to Maria Lopez at Acme Corporation, 742 Evergreen Terrace, Springfield."


@dataclass
class Encoding:
    """What the decoder reads of a ``tokenizers`` encoding: one token per word here, no special tokens."""

    offsets: list
    word_ids: list


def encoding_of(text: str) -> Encoding:
    offsets, pos = [], 0
    for word in text.split(" "):
        offsets.append((pos, pos + len(word)))
        pos += len(word) + 1
    return Encoding(offsets, list(range(len(offsets))))


def test_a_span_grows_from_a_sure_word_over_likely_neighbours():
    text = "call Maria Lopez now"
    strong = np.array([0, PERSON, 0, 0])
    weak = np.array([0, PERSON, PERSON, 0])
    [span] = spans_from_labels(strong, weak, text, encoding_of(text))
    assert (span.type, text[span.start:span.end]) == ("PERSON", "Maria Lopez")
    assert spans_from_labels(np.zeros(4, int), weak, text, encoding_of(text)) == []  # no sure word, no span


def test_punctuation_joins_but_never_starts_or_ends_a_span_and_implausible_spans_are_dropped():
    text = "at 12 Baker St , Springfield ."
    labels = np.array([0, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS])
    [span] = spans_from_labels(labels, labels, text, encoding_of(text))
    assert text[span.start:span.end] == "12 Baker St , Springfield"
    no_digit = "at Baker Street"  # an address needs a number and a letter
    assert spans_from_labels(np.array([0, ADDRESS, ADDRESS]), np.array([0, ADDRESS, ADDRESS]), no_digit,
                             encoding_of(no_digit)) == []
    lower = "ask Excuse me"  # a capital in a text that has capitals: kept; lower-case words there are not names
    assert [text[s.start:s.end] for text in [lower] for s in spans_from_labels(
        np.array([0, PERSON, PERSON]), np.array([0, PERSON, PERSON]), lower, encoding_of(lower))] == ["Excuse me"]
    assert spans_from_labels(np.array([PERSON, 0, 0]), np.array([PERSON, 0, 0]), lower, encoding_of(lower)) == []


@pytest.mark.parametrize("text, labelled, kept", [
    ("I know", 0, False), ("What now", 0, False), ("Ask Hello there", 1, False),   # function words alone
    ("visit FarmerBuys.com today", 1, False), ("mail www.Zentrix.io now", 1, False),  # part of a host name
    ("call Maria now", 1, True), ("Dr. Smith. Then go", 1, True),                  # a name before a full stop
    ("ask J.Smith now", 1, True),
])
def test_a_function_word_or_a_host_name_is_no_name(text, labelled, kept):
    labels = np.zeros(len(text.split(" ")), int)
    labels[labelled] = PERSON
    assert bool(spans_from_labels(labels, labels, text, encoding_of(text))) is kept


def test_labels_need_the_threshold():
    probs = np.array([[0.9, 0.05, 0.05, 0.0], [0.1, 0.2, 0.7, 0.0]])
    assert labels_from_probabilities(probs, 0.5).tolist() == [0, ORG]
    assert labels_from_probabilities(probs, 0.95).tolist() == [0, 0]


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_the_shipped_tagger_finds_a_name_and_an_address_and_leaves_a_plain_question_alone(embedder):
    tagger = NameTagger()
    found = {(e.type, LETTER[e.start:e.end]) for e in tagger.find(LETTER, embedder.token_states(LETTER))}
    assert any(t == "PERSON" and "Maria" in value for t, value in found), found
    assert any(t == "STREET_ADDRESS" and "742 Evergreen" in value for t, value in found), found
    question = "What is the capital of France?"
    assert tagger.find(question, embedder.token_states(question)) == []
    assert tagger.embedder_id == embedder.id and 0.5 <= tagger.threshold < 1


def test_one_encoder_pass_gives_the_embedding_and_the_token_states(embedder):
    plain = embedder.embed_one(LETTER)
    kept = embedder.embed_one(LETTER, keep_states=True)
    np.testing.assert_allclose(plain.vector, kept.vector, atol=1e-6)
    assert kept.states.hidden.shape == (kept.n_tokens, embedder.dim)
    long_text = "word " * 300 + "Maria Lopez"
    windows = embedder.token_states(long_text)
    assert len(windows) > 1 and windows[-1].encoding.offsets[-2][1] == len(long_text)  # the end is read too


def test_the_scanner_puts_validated_patterns_first_and_reports_names(embedder):
    scanner = Scanner(PrivacyPolicy(), embedder)
    text = "Write to MariaLopez@example.com or to Maria Lopez at 742 Evergreen Terrace."
    found = scanner.scan(text)
    assert [text[e.start:e.end] for e in found if e.type == "EMAIL"] == ["MariaLopez@example.com"]
    assert not any(e.type == "PERSON" and e.start < text.index(".com") for e in found)  # inside the e-mail
    assert {"PERSON", "STREET_ADDRESS"} <= {e.type for e in found}
    assert not any(e.type == "PERSON" for e in Scanner(PrivacyPolicy(tagger=False)).scan(text))
    with pytest.raises(ConfigurationError, match="tagger"):
        PrivacyPolicy(triggers=("name",), tagger=False)


class CountingEmbedder(Embedder):
    calls = 0

    def embed_one(self, text, *, keep_states=False):
        CountingEmbedder.calls += 1
        return super().embed_one(text, keep_states=keep_states)


def _router(embedder, **kwargs) -> EdgeRouter:
    return EdgeRouter(local=FakeLocal(n_ctx=200), cloud=FakeCloud(), router=FakeRouter(), embedder=embedder,
                      max_tokens=10, **kwargs)


def test_names_are_reported_by_default_and_trigger_when_configured(embedder):
    text = "Can you write a reference letter for Maria Lopez? It should be long and detailed, please."
    reported = _router(embedder).route(text, force=CLOUD)
    assert reported.route == CLOUD and "PERSON" in reported.privacy and reported.mode != "privacy"
    kept = _router(embedder, privacy=PrivacyPolicy(triggers=("name",))).route(text)
    assert kept.route == LOCAL and kept.mode == "privacy" and "PERSON" in kept.privacy
    cloud = RecordingCloud()
    router = EdgeRouter(local=FakeLocal(n_ctx=200), cloud=cloud, router=FakeRouter(), embedder=embedder,
                        max_tokens=10, privacy=PrivacyPolicy(mode="redact", triggers=("name",)))
    answer = router.chat(text, force=CLOUD)
    assert answer.route == CLOUD and "Maria" not in cloud.seen[-1] and "<PERSON_1>" in cloud.seen[-1]



def test_the_privacy_stage_reads_the_routers_own_encoder_pass():
    embedder = CountingEmbedder()
    CountingEmbedder.calls = 0
    decision = _router(embedder).route("Please forward this to Maria Lopez at Acme Corporation today.")
    assert CountingEmbedder.calls == 1 and "PERSON" in decision.privacy
    assert decision.route in (LOCAL, CLOUD)


def test_a_small_tagger_builds_end_to_end_from_synthetic_sentences(tmp_path, embedder):
    pytest.importorskip("faker", reason="building a tagger needs faker (the dev extra)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models" / "privacy"))
    from build import token_rows
    from synthetic import Generator

    from edge_router.training.token_head import TokenHead

    sentences = Generator(3).sentences(300)
    assert all(s.text[a:b].strip() for s in sentences for _, a, b in s.spans)
    X, y = token_rows(embedder, sentences)
    assert set(np.unique(y)) == set(range(len(LABELS)))
    head = TokenHead(len(LABELS), hidden=32, epochs=3).fit(X, y)
    path = head.export(tmp_path / "tagger.onnx", labels=LABELS, embedder_id=embedder.id, threshold=0.6)
    tagger = NameTagger(path)
    assert tagger.threshold == 0.6
    states = embedder.token_states(LETTER)[0]
    probs = tagger.probabilities(LETTER, states)
    np.testing.assert_allclose(probs, head.probabilities(token_inputs(LETTER, states)), atol=0.05)


def test_a_token_is_read_beside_its_neighbours(embedder):
    states = embedder.token_states(LETTER)[0]
    rows = token_inputs(LETTER, states)
    d = embedder.dim
    assert rows.shape == (len(states.encoding.ids), input_width(d))
    np.testing.assert_array_equal(rows[1:, d + SURFACE_FEATURES:2 * d + SURFACE_FEATURES], states.hidden[:-1])
    np.testing.assert_array_equal(rows[:-1, 2 * d + SURFACE_FEATURES:], states.hidden[1:])
    assert not rows[0, d + SURFACE_FEATURES:2 * d + SURFACE_FEATURES].any() and not rows[-1, -d:].any()


def test_a_tagger_built_for_other_inputs_is_refused_with_the_fix(embedder, tmp_path):
    from edge_router.training.token_head import TokenHead

    rng = np.random.default_rng(0)
    narrow = TokenHead(len(LABELS), hidden=8, epochs=1).fit(rng.normal(size=(64, embedder.dim + 8)),
                                                           rng.integers(0, len(LABELS), 64))
    tagger = NameTagger(narrow.export(tmp_path / "old.onnx", labels=LABELS, embedder_id=embedder.id, int8=False))
    with pytest.raises(CorruptModelError, match="rebuild it with models/privacy/build.py"):
        tagger.find(LETTER, embedder.token_states(LETTER))


def test_a_name_overlapping_an_address_never_hides_it():
    scanner = Scanner(PrivacyPolicy())
    text = "Ship it to 742 Evergreen Terrace, Springfield"
    start = text.index("Evergreen")
    end = len(text)
    scanner._names = lambda text, states, reuse: [Entity("PERSON", start, end)]
    assert [e.type for e in scanner.scan(text)] == ["STREET_ADDRESS"]


def test_the_patterns_only_setting_turns_the_tagger_off_from_the_command_line():
    import argparse

    from edge_router.config import RouterSettings, add_options, from_args

    parser = argparse.ArgumentParser()
    add_options(parser)
    assert from_args(parser.parse_args(["--privacy-patterns-only"])).privacy_policy().tagger is False
    assert RouterSettings().privacy_policy().tagger is True
    names = from_args(parser.parse_args(["--privacy-triggers", "name", "contact"])).privacy_policy()
    assert names.types == ("EMAIL", "PHONE", "PERSON", "ORGANIZATION")


def test_older_turns_reuse_their_spans_and_the_newest_is_always_read(monkeypatch):
    scanner = Scanner(PrivacyPolicy())
    passes = []
    encoder = scanner.encoder  # the process's default encoder: patched for this test only
    real = encoder.token_states
    monkeypatch.setattr(encoder, "token_states", lambda text: passes.append(text) or real(text))
    text = "Forward this to Maria Lopez."
    first = scanner.scan(text, reuse=False)
    assert scanner.scan(text) == first and passes == [text], "an older turn: the spans found before"
    scanner.scan(text, reuse=False)
    assert passes == [text, text], "the newest message is always read"


def test_an_encoder_the_tagger_was_not_trained_on_is_not_shared(embedder):
    class OtherEncoder:
        id, has_token_states = "some-other-encoder", True

    assert Scanner(PrivacyPolicy(), embedder).shares_encoder
    other = Scanner(PrivacyPolicy(), OtherEncoder())
    assert not other.shares_encoder and other.encoder.id == embedder.id, "the tagger's own encoder reads instead"


def test_a_long_texts_first_window_from_the_routers_pass_is_reused(embedder):
    long_text = "word " * 300 + "Maria Lopez"
    first = embedder.embed_one(long_text, keep_states=True).states
    reused = embedder.token_states(long_text, first=first)
    fresh = embedder.token_states(long_text)
    assert reused[0] is first and len(reused) == len(fresh) > 1
    assert all(np.allclose(a.hidden, b.hidden, atol=1e-5) for a, b in zip(reused, fresh))
