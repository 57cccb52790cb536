"""The shipped NLI models: hand-written pairs, a fixed MultiNLI slice, clustering modes, loader checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_router import EmbeddingNLIClusterer, EntailmentClusterer
from edge_router.data.nli_data import load_split, nli_root
from edge_router.errors import CorruptModelError

pytestmark = pytest.mark.real_models  # every test here loads a real model file

needs_nli_data = pytest.mark.skipif(not nli_root().is_dir(), reason="shared data folder with nli/ is absent")

HAND_WRITTEN = [
    ("A man plays a guitar.", "A person plays an instrument.", "entailment"),
    ("A man plays a guitar.", "Nobody is playing music.", "contradiction"),
    ("A man plays a guitar.", "The man is famous.", "neutral"),
    ("Two dogs run across a snowy field.", "Animals are outside.", "entailment"),
    ("Two dogs run across a snowy field.", "The dogs are asleep on a couch.", "contradiction"),
    ("A woman is reading a book in a cafe.", "The woman is waiting for her friend.", "neutral"),
]


@pytest.fixture(scope="module")
def cross_encoder():
    return EntailmentClusterer()


def test_shipped_cross_encoder_gets_hand_written_pairs_right(cross_encoder):
    labels = cross_encoder.entailment_labels([(p, h) for p, h, _ in HAND_WRITTEN])
    assert labels == [gold for _, _, gold in HAND_WRITTEN]


@needs_nli_data
def test_shipped_cross_encoder_on_a_fixed_multinli_mismatched_slice(cross_encoder):
    pairs = load_split("mnli-dev-mismatched")[:300]
    predicted = []
    for start in range(0, len(pairs), 50):
        chunk = pairs[start:start + 50]
        predicted += cross_encoder.entailment_labels([(p.premise, p.hypothesis) for p in chunk])
    accuracy = np.mean([p.label == q for p, q in zip(pairs, predicted)])
    assert accuracy >= 0.65


def test_strict_and_non_strict_clusters_with_the_shipped_model(cross_encoder):
    answers = ["Paris is the capital of France.", "The capital of France is Paris.",
               "The capital of France is Lyon.", "Paris is the capital of France."]
    strict = cross_encoder  # strict is the default
    loose = EntailmentClusterer(strict=False)
    assert strict.cluster(answers) == [0, 0, 1, 0]
    assert loose.cluster(answers) == [0, 0, 1, 0]
    # "It is in Europe." neither entails nor contradicts "Paris ...": neutral both ways -> its own cluster
    # in both modes; a more specific paraphrase is entailed one way only -> merged only when non-strict.
    specific = ["A man is playing a guitar.", "A man is playing a guitar on stage."]
    assert strict.cluster(specific) == [0, 1]
    assert loose.cluster(specific) == [0, 0]


def test_question_conditioning_prefixes_the_question(cross_encoder):
    calls = []
    clusterer = EntailmentClusterer(condition_on_question=True)
    original = clusterer.entailment_labels
    clusterer.entailment_labels = lambda pairs: calls.append(pairs) or original(pairs)
    clusterer.cluster(["Paris", "Lyon", "Paris"], question="What is the capital of France?")
    assert all(p.startswith("What is the capital of France? ") for pair in calls[0] for p in pair)
    assert len(calls[0]) == 2  # one distinct pair in each direction, identical answers not compared


def test_loader_refuses_a_wrong_tokenizer_or_label_map(cross_encoder, tmp_path):
    # Same vocabulary, but a tokenizer that keeps case: a different file from the one the model was trained with.
    data = json.loads(cross_encoder.tokenizer_path.read_text())
    data["normalizer"]["lowercase"] = False
    other = tmp_path / "cased-tokenizer.json"
    other.write_text(json.dumps(data))
    with pytest.raises(CorruptModelError, match="not the tokenizer"):
        EntailmentClusterer(tokenizer_path=other)
    with pytest.raises(CorruptModelError, match="does not match"):
        EntailmentClusterer(label_map={"entailment": 2, "neutral": 1, "contradiction": 0})


def test_embedding_feature_classifier_runs_and_checks_its_embedder():
    clusterer = EmbeddingNLIClusterer()
    assert clusterer.embedder.id == "all-minilm-l6-v2-onnx-int8", "it loads the embedder it was trained on"
    labels = clusterer.entailment_labels([(p, h) for p, h, _ in HAND_WRITTEN])
    assert set(labels) <= {"entailment", "neutral", "contradiction"}
    assert clusterer.cluster(["Paris.", "Paris.", "Paris"])[:2] == [0, 0]

    class Other:
        id = "some-other-embedder"

    with pytest.raises(CorruptModelError, match="trained on embedder"):
        EmbeddingNLIClusterer(Other())
