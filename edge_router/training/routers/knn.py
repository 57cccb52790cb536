"""k-nearest-neighbour router: the share of strong wins among the k most similar training queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._graph import const, helpers, save_router, similarity_nodes


class KnnRouter:
    """score(q) = mean label of the k training queries with the highest cosine similarity (ties count half)."""

    kind = "knn"

    def __init__(self, k: int = 10):
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        self.k = k

    def fit(self, X: np.ndarray, y: np.ndarray) -> KnnRouter:
        self.train, self.values = merge_duplicates(np.asarray(X, np.float32), np.asarray(y, np.float32))
        self.k_eff = min(self.k, len(self.values))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        sims = np.asarray(X, np.float32) @ self.train.T
        top = np.argpartition(-sims, self.k_eff - 1, axis=1)[:, : self.k_eff]
        return self.values[top].mean(axis=1).astype(np.float32)

    def export(self, path: str | Path, *, embedder_id: str, int8: bool = False) -> Path:
        helper = helpers()[0]
        nodes, inits = similarity_nodes(self.train, int8=int8)
        nodes += [
            helper.make_node("TopK", ["sims", "k"], ["top_sims", "top_idx"], axis=1),
            helper.make_node("Gather", ["values", "top_idx"], ["top_values"], axis=0),
            helper.make_node("ReduceMean", ["top_values"], ["score"], axes=[1], keepdims=0),
        ]
        inits += [const("k", np.array([self.k_eff], np.int64)), const("values", self.values)]
        return save_router(nodes, inits, path, dim=self.train.shape[1], kind=self.kind, embedder_id=embedder_id,
                           extra_meta={"k": str(self.k_eff), "int8": str(int8).lower()})


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
