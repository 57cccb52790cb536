"""Choosing among many models: predict each one's answer quality for a query, then pick by one knob.

``QualityPredictor`` is a kNN over recorded outcomes (each training query's score for every model, as RouterBench
records them, or the device's own feedback): a query's predicted quality for a model is its most similar
training queries' scores, weighted by softmax(similarity / temperature), as the binary kNN router weighs labels,
and pulled toward each model's mean score by ``prior_weight`` (neighbours are few and noisy; the mean is not).
Two policies read it: ``by_value`` picks the model with the highest quality − λ · cost (λ = 0: the best predicted
model whatever it costs; a large λ: the cheapest), and ``within_tolerance`` the cheapest model predicted within a
tolerance of the best. λ plays the part the threshold plays for two models, and is swept the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from .stages import Query, Verdict


class QualityPredictor:
    """Per-model quality from the k most similar training queries' recorded scores."""

    def __init__(self, k: int = 10, temperature: float = 0.1, prior_weight: float = 0.0):
        if k < 1 or not temperature > 0 or prior_weight < 0:
            raise InvalidInputError(f"k is at least 1, temperature above 0 and prior_weight 0 or more (got {k}, "
                                    f"{temperature}, {prior_weight}).")
        self.k, self.temperature, self.prior_weight = k, float(temperature), float(prior_weight)

    def fit(self, X: np.ndarray, quality: np.ndarray, models: tuple[str, ...]) -> QualityPredictor:
        X, quality = np.asarray(X, np.float32), np.asarray(quality, np.float32)
        if quality.ndim != 2 or len(X) != len(quality) or quality.shape[1] != len(models):
            raise InvalidInputError(f"quality is (queries, models) = ({len(X)}, {len(models)}), not "
                                    f"{quality.shape}.")
        self.train, self.quality, self.models = X, quality, tuple(models)
        self.prior = quality.mean(axis=0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(queries, models) predicted quality in [0, 1]."""
        sims = np.asarray(X, np.float32) @ self.train.T
        k = min(self.k, len(self.train))
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        logits = np.take_along_axis(sims, top, axis=1) / self.temperature
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        neighbours = np.einsum("nk,nkm->nm", weights, self.quality[top])
        blended = (neighbours + self.prior_weight * self.prior) / (1.0 + self.prior_weight)
        return np.clip(blended, 0.0, 1.0)  # the weights' rounding may pass 1 by an ulp

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez_compressed(path, train=self.train.astype(np.float16), quality=self.quality,
                            models=np.array(self.models), k=self.k, temperature=self.temperature,
                            prior_weight=self.prior_weight)
        return path

    @classmethod
    def load(cls, path: str | Path) -> QualityPredictor:
        with np.load(path) as data:
            model = cls(int(data["k"]), float(data["temperature"]), float(data["prior_weight"]))
            return model.fit(data["train"].astype(np.float32), data["quality"], tuple(str(m) for m in data["models"]))


def by_value(predicted: np.ndarray, costs: np.ndarray, lam: float) -> np.ndarray:
    """Per query, the model maximising predicted quality − λ · cost / (the dearest model's cost)."""
    scale = float(np.max(costs)) or 1.0
    return np.argmax(predicted - lam * np.asarray(costs)[None, :] / scale, axis=1)


def within_tolerance(predicted: np.ndarray, costs: np.ndarray, tolerance: float) -> np.ndarray:
    """Per query, the cheapest model predicted within ``tolerance`` of the best predicted quality."""
    ok = predicted >= predicted.max(axis=1, keepdims=True) - tolerance
    return np.argmin(np.where(ok, np.asarray(costs)[None, :], np.inf), axis=1)


class ModelChoice:
    """A decision stage that picks, per query, the device or one of several cloud endpoints by predicted quality −
    λ · cost: put it in ``EdgeRouter(stages=[...])`` in place of the trained router. ``targets`` maps each of the
    predictor's models to ``"local"`` or a cloud endpoint's name; ``costs`` is each model's price per query (the
    device's 0). A caller's own ``endpoint`` is left alone."""

    name = "model-choice"

    def __init__(self, embedder, predictor: QualityPredictor, targets: dict[str, str], costs: dict[str, float],
                 lam: float):
        missing = [m for m in predictor.models if m not in targets or m not in costs]
        if missing:
            raise InvalidInputError(f"give a target and a cost for every model the predictor knows: {missing} lack "
                                    "one.")
        self.embedder, self.predictor, self.targets, self.lam = embedder, predictor, targets, lam
        self.costs = np.array([costs[m] for m in predictor.models], np.float64)

    def decide(self, query: Query, route: str) -> Verdict:
        predicted = self.predictor.predict(np.atleast_2d(query.embed(self.embedder).vector))
        chosen = int(by_value(predicted, self.costs, self.lam)[0])
        model, target = self.predictor.models[chosen], self.targets[self.predictor.models[chosen]]
        reason = (f"model choice: {model} (predicted quality {predicted[0, chosen]:.3f}, λ {self.lam:g}) answers "
                  f"{'on the device' if target == 'local' else f'through endpoint {target!r}'}")
        if target == "local":
            return Verdict("local", reason, score=float(predicted[0, chosen]))
        if query.endpoint is None:
            query.endpoint = target
        return Verdict("cloud", reason, score=float(predicted[0, chosen]))
