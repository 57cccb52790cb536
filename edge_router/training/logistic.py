"""L2-regularised logistic regression on standardised features, by Newton's method (IRLS): the probes' fit.

Small enough for the device's own data (a few thousand rows of a few hundred to a thousand features); the
fit is deterministic, so a probe rebuilt from the same rows is the same file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LogisticFit:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def score(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 30) -> LogisticFit:
    """Fit P(y = 1 | x); ``l2`` is the penalty on the standardised weights (the bias is not penalised)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if len(x) != len(y) or len(set(y.tolist())) != 2:
        raise ValueError("a logistic fit needs rows with both outcomes")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    w = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return LogisticFit(mean.astype(np.float32), scale.astype(np.float32), w[:-1].astype(np.float32), float(w[-1]))


def share_thresholds(scores: np.ndarray, shares=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> dict[str, float]:
    """Thresholds that send each share of these scores (the calibration split's) to the cloud."""
    return {f"{s:.1f}": float(np.quantile(scores, 1 - s)) for s in shares}
