"""Routing among many models: the quality predictor, the two policies, the hull and AIQ, RouterBench's records."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge_router.data import datasets
from edge_router.errors import InvalidInputError
from edge_router.evaluation.many_models import aiq, cheapest_at, hull
from edge_router.metrics import auroc
from edge_router.routing.model_choice import QualityPredictor, by_value, within_tolerance

ROUTERBENCH = datasets.data_dir() / "routerbench"
needs_routerbench = pytest.mark.skipif(not ROUTERBENCH.is_dir(), reason="shared routerbench/ is absent")


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three models: "small" right when the first coordinate is high, "big" almost always, "odd" never."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 16))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    quality = np.stack([X[:, 0] > 0, rng.random(n) < 0.95, np.zeros(n, bool)], axis=1).astype(np.float32)
    return X.astype(np.float32), quality


def test_the_predictor_learns_which_model_is_right_where(tmp_path):
    (X, q), (Xt, qt) = planted(800, 0), planted(300, 1)
    model = QualityPredictor().fit(X, q, ("small", "big", "odd"))
    predicted = model.predict(Xt)
    assert predicted.shape == (300, 3) and np.all((predicted >= 0) & (predicted <= 1))
    assert auroc(predicted[:, 0], qt[:, 0] == 1) > 0.85, "where the small model is right"
    assert predicted[:, 2].max() == 0.0
    again = QualityPredictor.load(model.save(tmp_path / "p.npz"))
    np.testing.assert_allclose(again.predict(Xt), predicted, atol=2e-3)  # the stored embeddings are float16
    with pytest.raises(InvalidInputError, match="quality is"):
        QualityPredictor().fit(X, q[:, :2], ("small", "big", "odd"))


def test_the_prior_pulls_predictions_toward_each_models_mean():
    X, q = planted(400, 0)
    plain = QualityPredictor().fit(X, q, ("a", "b", "c")).predict(X[:50])
    pulled = QualityPredictor(prior_weight=1.0).fit(X, q, ("a", "b", "c")).predict(X[:50])
    np.testing.assert_allclose(pulled, (plain + q.mean(axis=0)) / 2, atol=1e-6)


def test_the_knob_trades_quality_for_cost():
    predicted = np.array([[0.9, 0.6, 0.2], [0.5, 0.5, 0.5]])
    costs = np.array([10.0, 1.0, 0.0])
    assert by_value(predicted, costs, 0.0).tolist() == [0, 0]       # the best, whatever it costs (ties: first)
    assert by_value(predicted, costs, 0.5).tolist() == [1, 2]       # 0.9 - 0.5 < 0.6 - 0.05
    assert by_value(predicted, costs, 100.0).tolist() == [2, 2]     # the free one
    assert within_tolerance(predicted, costs, 0.0).tolist() == [0, 2]
    assert within_tolerance(predicted, costs, 0.35).tolist() == [1, 2]


def test_hull_and_aiq_follow_routerbench():
    points = [{"cost_usd": 0.0, "accuracy": 0.5}, {"cost_usd": 1.0, "accuracy": 0.6},  # under the chord: dropped
              {"cost_usd": 2.0, "accuracy": 0.9}, {"cost_usd": 3.0, "accuracy": 0.8}]   # dearer and worse: dropped
    costs, accuracy = hull(points)
    assert costs.tolist() == [0.0, 2.0] and accuracy.tolist() == [0.5, 0.9]
    assert aiq(points, 0.0, 4.0) == pytest.approx((0.5 + 0.9) / 2 * 2 / 4 + 0.9 * 2 / 4, abs=1e-3)
    assert aiq([{"cost_usd": 3.0, "accuracy": 0.8}], 0.0, 4.0) == pytest.approx(0.2, abs=1e-3)
    assert cheapest_at(points, 0.85) == 2.0 and cheapest_at(points, 0.95) is None


@needs_routerbench
def test_routerbench_records_hold_every_models_score_and_cost():
    from edge_router.data.routerbench import records

    test = records("test")
    assert len(test.models) == 11 and "gpt-4-1106-preview" in test.models
    assert test.quality.shape == test.cost.shape == (len(test), 11)
    assert 900 < len(test) and len(test) + test.dropped <= 953
    gpt4 = test.models.index("gpt-4-1106-preview")
    assert 0.85 < test.quality[:, gpt4].mean() < 0.9 and 4.5 < test.cost[:, gpt4].sum() < 5.0
    with pytest.raises(InvalidInputError, match="splits"):
        records("validation")


@needs_routerbench
@pytest.mark.real_models
def test_eval_routerbench_writes_the_points_single_models_and_oracle(tmp_path):
    out = tmp_path / "rb.json"
    done = subprocess.run([sys.executable, "-m", "edge_router", "eval", "--benchmark", "routerbench", "--json",
                           str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    points = result["default"]["points"]
    assert len(points) > 10 and all({"accuracy", "cost_usd"} <= set(p) for p in points)
    assert len(result["single_models"]) == 11 and result["oracle"]["accuracy"] > 0.95
    assert result["default"]["aiq"] > max(v for k, v in result["aiq"].items() if k.startswith("single: "))


def test_model_choice_picks_the_device_or_an_endpoint_per_query():
    from edge_router import CloudLLM, EdgeRouter
    from edge_router.routing.model_choice import ModelChoice
    from edge_router.routing.stages import ContextFit
    from edge_router.testing import CloudServer, FakeEmbedder, FakeLocal

    class AngleEmbedder(FakeEmbedder):
        """A unit vector whose angle grows with the text's length: short questions suit the device, long ones
        "big"."""

        dim = 2

        def embed_one(self, text):
            from edge_router.backends.embedder import EmbeddedQuery

            angle = min(len(text), 100) / 100 * np.pi / 2
            return EmbeddedQuery(np.array([np.cos(angle), np.sin(angle)], np.float32), 1, False, 0.1, 0.2)

    X = np.stack([AngleEmbedder().embed_one("a" * n).vector for n in (10, 20, 80, 90)])
    quality = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 1], [0, 0, 1]], np.float32)
    predictor = QualityPredictor(k=2).fit(X, quality, ("device", "small", "big"))
    servers = [CloudServer().start(), CloudServer().start()]
    try:
        clouds = [CloudLLM(base_url=s.base_url, model="m", name=n, max_retries=0)
                  for s, n in zip(servers, ("small-ep", "big-ep"))]
        local = FakeLocal(n_ctx=500)
        choice = ModelChoice(AngleEmbedder(), predictor, {"device": "local", "small": "small-ep", "big": "big-ep"},
                             {"device": 0.0, "small": 1.0, "big": 5.0}, lam=0.5)
        router = EdgeRouter(local=local, cloud=clouds, stages=[choice, ContextFit(local, cloud_available=True)],
                            max_tokens=5)
        short, long = router.chat("x" * 10), router.chat("y" * 90)
        assert short.route == "local" and "device" in short.decision.reason
        assert long.route == "cloud" and long.decision.cloud_attempts[-1]["endpoint"] == "big-ep"
        assert not servers[0].requests and len(servers[1].requests) == 1
    finally:
        for s in servers:
            s.stop()
    with pytest.raises(InvalidInputError, match="lack"):
        ModelChoice(FakeEmbedder(), predictor, {"device": "local"}, {"device": 0.0}, lam=0.5)
