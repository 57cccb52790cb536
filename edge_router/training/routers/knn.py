"""k-nearest-neighbour router: the labels of the k most similar training queries, weighted by similarity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._graph import const, helpers, save_router, similarity_nodes


class KnnRouter:
    """score(q) = the labels (ties count half) of the k training queries with the highest cosine similarity,
    weighted by softmax(similarity / temperature).

    The weights make the score continuous: a plain mean of k labels takes k + 1 values, so many queries share
    each one and a threshold calibrated for a cloud share sends far more (benchmarks/results/default_share.md).
    A temperature of 0.1 ranks like the plain mean on the shipped labels' validation split (0.595 against
    0.592) while giving nearly every query its own score.
    """

    kind = "knn"

    def __init__(self, k: int = 10, temperature: float = 0.1):
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not temperature > 0:
            raise ValueError(f"temperature must be above 0, not {temperature}")
        self.k = k
        self.temperature = float(temperature)

    def fit(self, X: np.ndarray, y: np.ndarray) -> KnnRouter:
        self.train, self.values = merge_duplicates(np.asarray(X, np.float32), np.asarray(y, np.float32))
        self.k_eff = min(self.k, len(self.values))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        sims = np.asarray(X, np.float32) @ self.train.T
        top = np.argpartition(-sims, self.k_eff - 1, axis=1)[:, : self.k_eff]
        top_sims = np.take_along_axis(sims, top, axis=1) / self.temperature
        weights = np.exp(top_sims - top_sims.max(axis=1, keepdims=True))
        scores = (weights * self.values[top]).sum(axis=1) / weights.sum(axis=1)
        return np.clip(scores, 0.0, 1.0).astype(np.float32)  # the weights' rounding may pass 1 by an ulp

    def export(self, path: str | Path, *, embedder_id: str, int8: bool = False) -> Path:
        helper = helpers()[0]
        nodes, inits = similarity_nodes(self.train, int8=int8)
        nodes += [
            helper.make_node("TopK", ["sims", "k"], ["top_sims", "top_idx"], axis=1),
            helper.make_node("Gather", ["values", "top_idx"], ["top_values"], axis=0),
            helper.make_node("Div", ["top_sims", "temperature"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["weights"], axis=1),
            helper.make_node("Mul", ["weights", "top_values"], ["weighted"]),
            helper.make_node("ReduceSum", ["weighted", "axis1"], ["weighted_sum"], keepdims=0),
            helper.make_node("Clip", ["weighted_sum", "zero", "one"], ["score"]),
        ]
        inits += [const("k", np.array([self.k_eff], np.int64)), const("values", self.values),
                  const("temperature", np.array(self.temperature, np.float32)),
                  const("axis1", np.array([1], np.int64)), const("zero", np.array(0.0, np.float32)),
                  const("one", np.array(1.0, np.float32))]
        return save_router(nodes, inits, path, dim=self.train.shape[1], kind=self.kind, embedder_id=embedder_id,
                           extra_meta={"k": str(self.k_eff), "temperature": f"{self.temperature:g}",
                                       "int8": str(int8).lower()})


def merge_duplicates(X: np.ndarray, y: np.ndarray, *, tolerance: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Training rows with the same embedding (cosine ≥ 1 − tolerance) merged into one with their mean label.

    They are the same query to the router; kept apart they tie, and onnxruntime's TopK and numpy would
    break the tie differently (their matrix products round apart by an ulp).
    """
    sims = X @ X.T
    index = np.arange(len(X))
    group = index.copy()
    for i in index:
        if group[i] == i:
            group[(index > i) & (group == index) & (sims[i] >= 1 - tolerance)] = i
    keep = np.unique(group)
    return X[keep], np.array([y[group == g].mean() for g in keep], np.float32)
