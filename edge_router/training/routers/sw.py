"""Similarity-weighted (SW) ranking, as in RouteLLM, for one strong/weak pair.

Each training label is weighted by w = 10 · 10^(sim / max_sim), sim being its
cosine similarity to the query and max_sim the largest one. The Bradley-Terry
win probability of the strong model fitted to those weighted outcomes has, for
a single pair, the closed form P(strong) = Σ w·y / Σ w (a tie counts half a win).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._graph import const, helpers, save_router, similarity_nodes

MIN_MAX_SIM = 1e-6


class SWRouter:
    kind = "sw"

    def fit(self, X: np.ndarray, y: np.ndarray) -> SWRouter:
        self.train = np.asarray(X, np.float32)
        self.values = np.asarray(y, np.float32)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        sims = np.asarray(X, np.float32) @ self.train.T
        max_sim = np.maximum(sims.max(axis=1, keepdims=True), MIN_MAX_SIM)
        w = 10.0 * np.power(10.0, sims / max_sim)
        return ((w * self.values).sum(axis=1) / w.sum(axis=1)).astype(np.float32)

    def export(self, path: str | Path, *, embedder_id: str, int8: bool = False) -> Path:
        helper = helpers()[0]
        nodes, inits = similarity_nodes(self.train, int8=int8)
        nodes += [
            helper.make_node("ReduceMax", ["sims"], ["max_raw"], axes=[1], keepdims=1),
            helper.make_node("Max", ["max_raw", "min_max"], ["max_sim"]),
            helper.make_node("Div", ["sims", "max_sim"], ["ratio"]),
            helper.make_node("Pow", ["ten", "ratio"], ["pow"]),
            helper.make_node("Mul", ["pow", "ten"], ["w"]),
            helper.make_node("Mul", ["w", "values"], ["wy"]),
            helper.make_node("ReduceSum", ["wy", "axis1"], ["num"], keepdims=0),
            helper.make_node("ReduceSum", ["w", "axis1"], ["den"], keepdims=0),
            helper.make_node("Div", ["num", "den"], ["score"]),
        ]
        inits += [const("axis1", np.array([1], np.int64)), const("min_max", np.array(MIN_MAX_SIM, np.float32)),
                  const("ten", np.array(10.0, np.float32)), const("values", self.values)]
        return save_router(nodes, inits, path, dim=self.train.shape[1], kind=self.kind, embedder_id=embedder_id,
                           extra_meta={"int8": str(int8).lower()})
