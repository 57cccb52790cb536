"""The real embedders: MiniLM over onnxruntime and the static table distilled from it."""

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


def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(embedder):
    texts = ["short", "a considerably longer sentence that forces padding of the short one"]
    batch = embedder.embed(texts)
    for text, row in zip(texts, batch):
        np.testing.assert_allclose(embedder.embed_one(text).vector, row, atol=1e-6)


def test_batch_padding_does_not_change_float_embeddings():
    batched = Embedder(name="all-minilm-l6-v2-onnx-int8", batch_size=8)
    texts = ["short", "a considerably longer sentence that forces padding of the short one"]
    for text, row in zip(texts, batched.embed(texts)):
        np.testing.assert_allclose(batched.embed_one(text).vector, row, atol=1e-4)


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


def test_static_table_embeds_without_a_transformer(embedder):
    static = Embedder(name="minilm-l6-v2-static")
    assert static.id == "minilm-l6-v2-static" and static.dim == 256
    texts = ["How do I bake bread?", "What is a recipe for baking bread?", "Who won the 1998 World Cup?"]
    a, b, c = static.embed(texts)
    assert a @ b > a @ c + 0.2
    query = static.embed_one("What is the capital of France?")
    np.testing.assert_allclose(np.linalg.norm(query.vector), 1.0, atol=1e-5)
    np.testing.assert_allclose(static.embed(["What is the capital of France?"])[0], query.vector, atol=1e-6)
    assert static.embed_one("").vector.shape == (256,), "a text of special tokens only is a zero vector, not a crash"


def test_a_static_table_that_does_not_fit_the_tokenizer_is_refused(tmp_path):
    wrong = tmp_path / "table.npy"
    np.save(wrong, np.ones((100, 8), np.float16))
    with pytest.raises(CorruptModelError, match="one per token"):
        Embedder(wrong)
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not a numpy file")
    with pytest.raises(CorruptModelError, match="pull it again"):
        Embedder(broken)
