"""The real default embedder (int8 all-MiniLM-L6-v2 over onnxruntime)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_router import Embedder
from edge_router.errors import CorruptModelError, InvalidInputError


def test_vectors_are_unit_length_384d(embedder):
    vectors = embedder.embed(["hello world", "a much longer sentence about the weather in spring"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_meanings_are_closer(embedder):
    a, b, c = embedder.embed(
        ["How do I bake bread?", "What is a recipe for baking bread?", "Who won the 1998 World Cup?"]
    )
    assert a @ b > a @ c + 0.3


def test_single_queries_are_not_padded(embedder):
    query = embedder.embed_one("What is the capital of France?")
    assert query.n_tokens < 16, "padding to 128 tokens would make every query cost the same"
    assert not query.truncated
    assert query.tokenize_ms >= 0 and query.embed_ms > 0


def test_batch_padding_does_not_change_embeddings(embedder):
    texts = ["short", "a considerably longer sentence that forces padding of the short one"]
    batch = embedder.embed(texts)
    for text, row in zip(texts, batch):
        np.testing.assert_allclose(embedder.embed_one(text).vector, row, atol=1e-4)


def test_long_input_is_truncated_and_reported():
    small = Embedder(max_tokens=16)
    query = small.embed_one("word " * 100)
    assert query.truncated and query.n_tokens == 16


def test_bad_input_is_refused(embedder):
    with pytest.raises(InvalidInputError):
        embedder.embed("a plain string instead of a list")
    with pytest.raises(InvalidInputError):
        embedder.embed(["fine", 3])


def test_corrupted_files_are_clear_errors(tmp_path, embedder):
    bad_model = tmp_path / "model.onnx"
    bad_model.write_bytes(b"\x00" * 100)
    with pytest.raises(CorruptModelError):
        Embedder(bad_model)
    bad_tok = tmp_path / "tokenizer.json"
    bad_tok.write_text("{not json")
    with pytest.raises(CorruptModelError, match="tokenizer"):
        Embedder(tokenizer_path=bad_tok)


def test_registered_embedders_can_be_picked_by_name(embedder):
    dyn = Embedder(name="all-minilm-l6-v2-onnx-dynint8")
    assert dyn.id == "all-minilm-l6-v2-onnx-dynint8" and dyn.dim == embedder.dim
    texts = ["How do I bake bread?", "What is a recipe for baking bread?", "Who won the 1998 World Cup?"]
    cos = (dyn.embed(texts) * embedder.embed(texts)).sum(axis=1)
    assert cos.min() > 0.98, "the re-quantized embedder agrees with the default"
    with pytest.raises(InvalidInputError, match="not an embedder"):
        Embedder(name="smollm2-135m-instruct-q4_1")
