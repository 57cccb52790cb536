"""Router trainers: planted rules, ONNX parity, int8 agreement, calibration, labels."""

from __future__ import annotations

import numpy as np
import pytest

from edge_router import RouterModel
from edge_router.metrics import auroc, spearman
from edge_router.training.labels import STRONG, TIE, WEAK, preference, split_of
from edge_router.training.routers import KINDS
from edge_router.training.trainer import calibration_table, realised_shares

DIM = 32


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors; the strong model wins when the first coordinate is high, the weak one when it is low."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, DIM))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] > 0.1, 1.0, np.where(X[:, 0] < -0.1, 0.0, 0.5)).astype(np.float32)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    return planted(600, 0), planted(300, 1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_trainer_recovers_a_planted_rule(kind, data):
    (X, y), (Xt, yt) = data
    model = KINDS[kind]().fit(X, y)
    scores = model.score(Xt)
    assert scores.shape == (len(Xt),) and np.all((scores >= 0) & (scores <= 1))
    # a router that ignored the direction, or inverted it, sits at 0.5 or below
    assert auroc(scores, yt == 1.0) > 0.85, kind
    assert auroc(scores, yt == 0.0) < 0.15, kind


@pytest.mark.parametrize("kind", list(KINDS))
def test_export_matches_numpy(kind, data, tmp_path):
    (X, y), (Xt, _) = data
    model = KINDS[kind]().fit(X, y)
    path = model.export(tmp_path / f"{kind}.onnx", embedder_id="test-emb")
    router = RouterModel(path, embedder_id="test-emb", dim=DIM)
    np.testing.assert_allclose(router.score(Xt), model.score(Xt), atol=1e-5)
    assert router.kind == kind


def test_knn_merges_training_queries_with_the_same_embedding(tmp_path):
    """Prompts that embed alike (e.g. cut to the same first tokens) tie; onnxruntime would break ties its own way."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(1, 384))
    X = np.vstack([rng.normal(size=(7, 384)), np.repeat(base, 100, axis=0), rng.normal(size=(200, 384))])
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    y = (np.arange(len(X)) % 3 / 2).astype(np.float32)
    model = KINDS["knn"](k=10).fit(X, y)
    assert len(model.values) == 208 and np.isclose(model.values[7], y[7:107].mean())
    path = model.export(tmp_path / "knn.onnx", embedder_id="test")
    queries = np.vstack([np.repeat(base, 3, axis=0).astype(np.float32), X[:50]])
    np.testing.assert_allclose(RouterModel(path, embedder_id="test", dim=384).score(queries), model.score(queries),
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["knn", "sw"])
def test_int8_files_are_smaller_and_rank_alike(kind, data, tmp_path):
    (X, y), (Xt, _) = data
    model = KINDS[kind]().fit(X, y)
    f32 = model.export(tmp_path / "f32.onnx", embedder_id="e")
    i8 = model.export(tmp_path / "i8.onnx", embedder_id="e", int8=True)
    assert i8.stat().st_size < 0.4 * f32.stat().st_size
    a = RouterModel(f32, embedder_id="e", dim=DIM).score(Xt)
    b = RouterModel(i8, embedder_id="e", dim=DIM).score(Xt)
    assert spearman(a, b) >= 0.99


def test_knn_scores_have_no_plateaus(data):
    """Weighted by similarity, nearly every query gets its own score: a plain mean of 10 labels takes at most 21
    values here, and a threshold on a plateau sends more than the share it was calibrated for."""
    (X, y), (Xt, _) = data
    scores = KINDS["knn"]().fit(X, y).score(Xt)
    assert len(np.unique(scores)) > 0.9 * len(scores)


@pytest.mark.parametrize("kind", ["mlp", "knn"])
def test_calibration_gives_the_requested_share(kind, data):
    (X, y), (Xt, _) = data
    scores = KINDS[kind]().fit(X, y).score(Xt)
    table = calibration_table(scores)
    assert [row["cloud_share"] for row in table] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    for target, realised in realised_shares(scores, table):
        assert abs(realised - target) <= 0.02, (target, realised)


@pytest.mark.parametrize(
    "se_strong, se_weak, label",
    [
        (0.0, 1.0, STRONG),      # δ = 1
        (1.0, 0.0, WEAK),
        (0.0, 0.0, TIE),         # both certain: δ = 0 (ε keeps it defined)
        (1.0, 0.95, TIE),        # δ = 0.05 <= τ
        (1.0, 0.85, WEAK),       # δ = 0.15 > τ, weak is surer
        (0.5, 0.555, TIE),       # δ = 0.099
        (0.5, 0.6, STRONG),      # δ = 0.167
    ],
)
def test_labels_follow_the_delta_tau_rule(se_strong, se_weak, label):
    assert preference(se_strong, se_weak, tau=0.1)[0] == label


def test_delta_value_and_bad_input():
    assert preference(0.2, 0.8)[1] == pytest.approx(0.75)
    assert preference(0.0, 0.0, tau=0.0)[0] == TIE
    with pytest.raises(ValueError):
        preference(-0.1, 0.2)


def test_splits_are_stable_and_proportioned():
    texts = [f"question number {i}" for i in range(3000)]
    splits = [split_of(t) for t in texts]
    assert splits == [split_of(t) for t in texts]
    shares = {s: splits.count(s) / len(splits) for s in ("train", "calibration", "test")}
    assert abs(shares["train"] - 0.70) < 0.03 and abs(shares["test"] - 0.15) < 0.03
