"""Clustering backends and the semantic-entropy arithmetic."""

from __future__ import annotations

import math

import pytest
from onnx_builders import token_overlap_nli

from edge_router import EmbeddingClusterer, EntailmentClusterer, ExactMatchClusterer
from edge_router.errors import CorruptModelError, InvalidInputError
from edge_router.uncertainty.clustering import greedy_clusters, normalize_answer
from edge_router.uncertainty.semantic_entropy import cluster_entropy, likelihood_entropy


@pytest.mark.parametrize(
    "a, b",
    [
        ("B", "(B)"),
        ("B. Paris", "The answer is (B)"),
        ("42", "The answer is 42."),
        ("1,000", "1000"),
        ("3.50", "3.5"),
        ("The Eiffel Tower!", "eiffel tower"),
        ("  Paris ", "paris."),
    ],
)
def test_normalised_forms_match(a, b):
    assert normalize_answer(a) == normalize_answer(b)


@pytest.mark.parametrize("a, b", [("A dog", "dog cat"), ("42", "43"), ("B", "C"), ("Paris", "London")])
def test_normalised_forms_differ(a, b):
    assert normalize_answer(a) != normalize_answer(b)


def test_a_sentence_starting_with_a_is_not_option_a():
    assert normalize_answer("A dog barked") == "text:dog barked"


def test_exact_match_clusters():
    ids = ExactMatchClusterer().cluster(["12", "The answer is 12.", "13", "twelve", "12.0"])
    assert ids == [0, 0, 1, 2, 0]


def test_greedy_clusters_compare_with_first_members():
    assert greedy_clusters(4, lambda i, j: (i % 2) == (j % 2)) == [0, 1, 0, 1]


def test_entropy_from_counts():
    assert cluster_entropy([0, 0, 0, 0, 0]) == 0.0
    assert cluster_entropy([0, 1, 2, 3, 4]) == pytest.approx(math.log(5))
    assert cluster_entropy([0, 0, 0, 1, 1]) == pytest.approx(-(0.6 * math.log(0.6) + 0.4 * math.log(0.4)))
    with pytest.raises(InvalidInputError):
        cluster_entropy([])


def test_entropy_from_likelihoods():
    ids = [0, 0, 1]
    # equal likelihoods reproduce the count entropy
    assert likelihood_entropy(ids, [-1.0, -1.0, -1.0]) == pytest.approx(cluster_entropy(ids))
    # a far likelier cluster drives the entropy towards zero
    assert likelihood_entropy(ids, [-0.1, -0.1, -30.0]) < 1e-6
    assert likelihood_entropy([0, 0], [-5.0, -0.1]) == pytest.approx(0.0)
    with pytest.raises(InvalidInputError):
        likelihood_entropy([0, 1], [-1.0])


def test_embedding_clusterer_groups_paraphrases(embedder):
    clusterer = EmbeddingClusterer(embedder)
    ids = clusterer.cluster([
        "The capital of France is Paris.",
        "Paris is the capital of France.",
        "The capital of Germany is Berlin.",
        "Bananas are yellow fruit.",
    ])
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[3]}) == 3


@pytest.fixture
def nli_model(tmp_path, embedder):
    tok = embedder.tokenizer
    return token_overlap_nli(
        tmp_path / "nli.onnx", vocab_size=tok.get_vocab_size(), negation_id=tok.token_to_id("not")
    )


def test_entailment_clusterer_strict_and_non_strict(nli_model, embedder):
    answers = ["paris is the capital", "paris", "paris is not the capital", "london"]
    strict = EntailmentClusterer(nli_model, embedder.tokenizer_path, strict=True)
    loose = EntailmentClusterer(nli_model, embedder.tokenizer_path, strict=False)
    # premise entails the hypothesis when it contains all its words; "not" on one side contradicts
    assert strict.entailment_labels([("paris is the capital", "paris"), ("paris", "london"),
                                     ("paris is the capital", "paris is not the capital")]) == [
        "entailment", "neutral", "contradiction"]
    # strict: one-way entailment is not enough
    assert strict.cluster(answers) == [0, 1, 2, 3]
    # non-strict: "paris" joins "paris is the capital" (entailment one way, neutral the other)
    assert loose.cluster(answers) == [0, 0, 1, 2]
    assert strict.cluster(["same answer", "same answer"]) == [0, 0]


def test_entailment_clusterer_can_condition_on_the_question(nli_model, embedder):
    clusterer = EntailmentClusterer(nli_model, embedder.tokenizer_path, condition_on_question=True)
    # with the question prefixed, "paris" and "the capital is paris" share every word
    assert clusterer.cluster(["paris", "capital paris"], question="what is the capital") == [0, 0]
    assert EntailmentClusterer(nli_model, embedder.tokenizer_path).cluster(["paris", "capital paris"]) == [0, 1]


def test_entailment_loader_rejects_mismatched_label_map_or_tokenizer(tmp_path, embedder, nli_model):
    with pytest.raises(CorruptModelError, match="does not match"):
        EntailmentClusterer(nli_model, embedder.tokenizer_path,
                            label_map={"entailment": 2, "neutral": 1, "contradiction": 0})
    odd = token_overlap_nli(tmp_path / "odd.onnx", vocab_size=embedder.tokenizer.get_vocab_size(),
                            negation_id=1, stored_label_map={"entailment": 0, "neutral": 1, "other": 2})
    with pytest.raises(CorruptModelError, match="exactly"):
        EntailmentClusterer(odd, embedder.tokenizer_path)
    other_vocab = token_overlap_nli(tmp_path / "v.onnx", vocab_size=embedder.tokenizer.get_vocab_size(),
                                    negation_id=1, declared_vocab=50000)
    with pytest.raises(CorruptModelError, match="tokenizer"):
        EntailmentClusterer(other_vocab, embedder.tokenizer_path)


def test_the_gate_asks_its_samples_for_short_answers_without_touching_the_callers_messages():
    from edge_router.uncertainty.semantic_entropy import SHORT_ANSWER, with_instruction

    plain = [{"role": "user", "content": "Who wrote Hamlet?"}]
    assert with_instruction(plain, SHORT_ANSWER) == [{"role": "system", "content": SHORT_ANSWER}, *plain]
    system = [{"role": "system", "content": "Be kind."}, *plain]
    assert with_instruction(system, SHORT_ANSWER)[0]["content"] == f"Be kind.\n\n{SHORT_ANSWER}"
    assert system[0]["content"] == "Be kind." and with_instruction(plain, None) is plain


def test_stored_answers_give_their_clusters_both_entropies_and_the_time():
    from edge_router import ExactMatchClusterer
    from edge_router.uncertainty.semantic_entropy import entropies_of

    ids, counts, likelihood, ms = entropies_of(ExactMatchClusterer(), ["Paris", "paris.", "Lyon"], [-0.1, -0.2, -3.0])
    assert ids[0] == ids[1] != ids[2] and ms >= 0
    assert counts == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))
    assert 0 < likelihood < counts  # the unlikely answer weighs less
