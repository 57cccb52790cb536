"""The router file contract, with router files the tests build."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_builders import logistic_router

from edge_router import RouterModel
from edge_router.errors import CorruptModelError, RouterModelError

DIM = 8


@pytest.fixture
def weights():
    return np.random.default_rng(0).normal(size=DIM).astype(np.float32)


def test_scores_match_the_numpy_model(tmp_path, weights):
    path = logistic_router(tmp_path / "r.onnx", weights, 0.3, embedder_id="emb-a", kind="logistic")
    router = RouterModel(path, embedder_id="emb-a", dim=DIM)
    x = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
    expected = 1 / (1 + np.exp(-(x @ weights + 0.3)))
    np.testing.assert_allclose(router.score(x), expected, rtol=1e-5, atol=1e-6)
    assert router.kind == "logistic"
    assert router.score(x[0]).shape == (1,)


def test_router_for_another_embedder_is_refused(tmp_path, weights):
    path = logistic_router(tmp_path / "r.onnx", weights, 0.0, embedder_id="emb-b")
    with pytest.raises(RouterModelError) as info:
        RouterModel(path, embedder_id="emb-a", dim=DIM)
    assert "'emb-b'" in str(info.value) and "'emb-a'" in str(info.value)


def test_dimension_mismatch_is_refused(tmp_path, weights):
    path = logistic_router(tmp_path / "r.onnx", weights, 0.0, embedder_id="emb-a")
    with pytest.raises(RouterModelError, match="8-dimensional"):
        RouterModel(path, embedder_id="emb-a", dim=384)


def test_router_without_embedder_metadata_is_refused(tmp_path, weights):
    path = logistic_router(tmp_path / "r.onnx", weights, 0.0, embedder_id=None)
    with pytest.raises(RouterModelError, match="embedder_id"):
        RouterModel(path, embedder_id="emb-a", dim=DIM)


def test_scores_outside_0_1_are_an_error_not_a_silent_route(tmp_path, weights):
    path = logistic_router(tmp_path / "r.onnx", weights * 100, 5.0, embedder_id="emb-a", sigmoid=False)
    router = RouterModel(path, embedder_id="emb-a", dim=DIM)
    with pytest.raises(RouterModelError, match="outside"):
        router.score(np.ones((2, DIM), np.float32))


def test_corrupted_router_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx file at all")
    with pytest.raises(CorruptModelError, match="cannot load"):
        RouterModel(path, embedder_id="emb-a", dim=DIM)


def test_a_broken_user_router_file_is_not_told_to_pull_models(tmp_path):
    bad = tmp_path / "mine.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(CorruptModelError) as info:
        RouterModel(bad, embedder_id="e", dim=4)
    assert "edge-router train" in str(info.value) and "models pull" not in str(info.value)
