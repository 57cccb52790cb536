"""Two-layer MLP router with a softmax over {strong wins, tie, weak wins}.

The score is the strong-win probability of the softmax (which equals
1 − P(tie) − P(weak)). Trained with cross-entropy and Adam (full batch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..optim import adam, softmax
from ._graph import const, helpers, save_router

CLASSES = (1.0, 0.5, 0.0)  # strong, tie, weak


class MLPRouter:
    kind = "mlp"

    def __init__(self, hidden: int = 64, epochs: int = 300, lr: float = 0.005, weight_decay: float = 1e-4,
                 seed: int = 0):
        self.hidden, self.epochs, self.lr, self.weight_decay, self.seed = hidden, epochs, lr, weight_decay, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> MLPRouter:
        X = np.asarray(X, np.float64)
        target = np.stack([np.isclose(y, c) for c in CLASSES], axis=1).astype(np.float64)
        if not target.any(axis=1).all():
            raise ValueError("labels must be 1 (strong), 0.5 (tie) or 0 (weak)")
        rng = np.random.default_rng(self.seed)
        d, n = X.shape[1], len(X)
        p = {"W1": rng.normal(scale=np.sqrt(2 / d), size=(d, self.hidden)), "b1": np.zeros(self.hidden),
             "W2": rng.normal(scale=np.sqrt(1 / self.hidden), size=(self.hidden, 3)), "b2": np.zeros(3)}
        state: dict = {}
        for _ in range(self.epochs):
            pre = X @ p["W1"] + p["b1"]
            h = np.maximum(pre, 0.0)
            probs = softmax(h @ p["W2"] + p["b2"])
            d_logits = (probs - target) / n
            d_h = (d_logits @ p["W2"].T) * (pre > 0)
            grads = {"W2": h.T @ d_logits + self.weight_decay * p["W2"], "b2": d_logits.sum(axis=0),
                     "W1": X.T @ d_h + self.weight_decay * p["W1"], "b1": d_h.sum(axis=0)}
            adam(p, grads, state, lr=self.lr)
        self.params = {k: v.astype(np.float32) for k, v in p.items()}
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        p = self.params
        h = np.maximum(np.asarray(X, np.float32) @ p["W1"] + p["b1"], 0.0)
        return softmax(h @ p["W2"] + p["b2"])[:, 0].astype(np.float32)

    def export(self, path: str | Path, *, embedder_id: str, int8: bool = False) -> Path:
        helper = helpers()[0]
        p = self.params
        nodes = [
            helper.make_node("MatMul", ["embedding", "W1"], ["a1"]),
            helper.make_node("Add", ["a1", "b1"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["h"]),
            helper.make_node("MatMul", ["h", "W2"], ["a2"]),
            helper.make_node("Add", ["a2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
            helper.make_node("Gather", ["probs", "strong"], ["score"], axis=1),
        ]
        inits = [const(k, v) for k, v in p.items()] + [const("strong", np.array(0, np.int64))]
        return save_router(nodes, inits, path, dim=p["W1"].shape[0], kind=self.kind, embedder_id=embedder_id)
