"""Matrix-factorisation router (RouteLLM's MF, for one strong/weak pair).

s(M, q) = wᵀ(v_M ⊙ W q); P(strong) = σ(s_strong − s_weak). Trained with binary
cross-entropy on the non-tie labels and Adam (full batch, L2 on W).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..optim import adam
from ._graph import const, helpers, save_router


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class MFRouter:
    kind = "mf"

    def __init__(self, hidden: int = 64, epochs: int = 400, lr: float = 0.01, weight_decay: float = 1e-4,
                 seed: int = 0):
        self.hidden, self.epochs, self.lr, self.weight_decay, self.seed = hidden, epochs, lr, weight_decay, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> MFRouter:
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64)
        keep = y != 0.5
        X, y = X[keep], y[keep]
        if len(y) == 0:
            raise ValueError("MF needs at least one non-tie label")
        rng = np.random.default_rng(self.seed)
        d = X.shape[1]
        p = {"W": rng.normal(scale=1 / np.sqrt(d), size=(self.hidden, d)),
             "v_strong": rng.normal(scale=0.1, size=self.hidden) + 1.0,
             "v_weak": rng.normal(scale=0.1, size=self.hidden) - 1.0,
             "w": rng.normal(scale=0.1, size=self.hidden)}
        state: dict = {}
        n = len(y)
        for _ in range(self.epochs):
            z = X @ p["W"].T                                  # [n, h]
            diff = p["v_strong"] - p["v_weak"]
            logit = z @ (p["w"] * diff)
            g = (_sigmoid(logit) - y) / n                     # dL/dlogit
            dz = np.outer(g, p["w"] * diff)
            common = (g[:, None] * z).sum(axis=0)             # Σ g_i z_i
            grads = {"W": dz.T @ X + self.weight_decay * p["W"], "w": common * diff,
                     "v_strong": common * p["w"], "v_weak": -common * p["w"]}
            adam(p, grads, state, lr=self.lr)
        self.W = p["W"].astype(np.float32)
        self.u = (p["w"] * (p["v_strong"] - p["v_weak"])).astype(np.float32)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid((np.asarray(X, np.float32) @ self.W.T) @ self.u).astype(np.float32)

    def export(self, path: str | Path, *, embedder_id: str, int8: bool = False) -> Path:
        helper = helpers()[0]
        nodes = [
            helper.make_node("MatMul", ["embedding", "W_t"], ["z"]),
            helper.make_node("MatMul", ["z", "u"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["score"]),
        ]
        inits = [const("W_t", self.W.T.copy()), const("u", self.u)]
        return save_router(nodes, inits, path, dim=self.W.shape[1], kind=self.kind, embedder_id=embedder_id)
