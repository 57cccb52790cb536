"""Fit the answer check's probe: L2-regularised logistic regression on standardised features (Newton steps)."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..backends.token_stats import TokenStats
from ..errors import InvalidInputError
from ..uncertainty.answer_check import AnswerProbe
from .trainer import calibration_table


def fit_probe(X: np.ndarray, y: np.ndarray, *, n_tokens: int, embedder_id: str | None, l2: float = 1.0,
              steps: int = 25) -> AnswerProbe:
    """A probe predicting ``y`` (1 = local answer wrong) from feature rows ``X`` (signals, then the embedding
    when ``embedder_id`` is set)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    if len(X) != len(y) or len(X) < 2 or not 0 < y.mean() < 1:
        raise InvalidInputError("the probe needs at least two rows with both outcomes, one label per row.")
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = np.hstack([(X - mean) / scale, np.ones((len(X), 1))])
    w = np.zeros(Z.shape[1])
    penalty = np.full(Z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        gradient = Z.T @ (p - y) + penalty * w
        hessian = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return AnswerProbe(n_tokens=n_tokens, weights=w[:-1], bias=float(w[-1]), mean=mean, scale=scale,
                       embedder_id=embedder_id)


def with_thresholds(probe: AnswerProbe, scores: np.ndarray) -> AnswerProbe:
    """``probe`` with the thresholds that send 10 % … 90 % of ``scores`` (its calibration answers) out."""
    return replace(probe, thresholds=tuple(calibration_table(scores)))


def read_signals(path: str | Path, source: str) -> dict[str, list[TokenStats]]:
    """Token statistics by key for one source (``labels`` or ``outcomes``) of a file ``models/probes/signals.py``
    wrote."""
    out = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["source"] == source:
                out[row["key"]] = [TokenStats(lp, h) for lp, h in zip(row["logprobs"], row["entropies"])]
    return out
