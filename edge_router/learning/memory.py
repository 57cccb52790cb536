"""The app's feedback as a memory beside the shipped router.

``FeedbackMemory`` holds the embeddings of queries the app labelled and whether the device's answer was bad.
For a new query, the labelled queries within ``radius`` (cosine) among its ``k`` nearest vote, weighted by
softmax(similarity / temperature), and the router's score moves toward their vote by α = n / (n + ``prior``), n
being how many voted: a query like the ones the app reported is decided by those reports, one unlike them keeps
the shipped router's score exactly (other kinds of questions are not dragged along).

``LearnedRouter`` is the shipped router with a memory: the same ``score`` / ``threshold_for_share`` calls, its
thresholds recalibrated on the app's own traffic, so a target cloud share holds there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.router_model import threshold_from_table
from ..errors import RouterModelError


@dataclass
class FeedbackMemory:
    vectors: np.ndarray  # (n, dim) unit vectors
    bad: np.ndarray  # (n,) 1.0 where the device's answer was not good enough
    k: int = 10
    radius: float = 0.35
    temperature: float = 0.1
    prior: float = 2.0

    def neighbours(self, X: np.ndarray, *, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, indices) of each query's ``k`` nearest stored queries, whatever the radius (so several
        radii can be tried on one search); ``exclude_self`` leaves out a stored query identical to the query."""
        X = np.atleast_2d(np.asarray(X, np.float32))
        k = min(self.k, len(self.vectors))
        if k == 0:
            return np.zeros((len(X), 0), np.float32), np.zeros((len(X), 0), int)
        sims = X @ self.vectors.T
        if exclude_self:
            sims[sims >= 0.9999] = -1.0
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return np.take_along_axis(sims, top, axis=1), top

    def vote(self, X: np.ndarray, found: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(the weighted share of "bad" among the voters, the number of voters) per query."""
        top_sims, top = found if found is not None else self.neighbours(X)
        near = top_sims >= self.radius
        weights = np.where(near, np.exp(top_sims / self.temperature), 0.0)  # similarity ≤ 1: no overflow
        total = weights.sum(axis=1)
        share = np.divide((weights * self.bad[top]).sum(axis=1), total, out=np.zeros(len(top)), where=total > 0)
        return share, near.sum(axis=1).astype(float)

    def adjust(self, scores: np.ndarray, X: np.ndarray,
               found: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``scores`` moved toward the votes of the stored queries within reach of each query in ``X``."""
        share, voters = self.vote(X, found)
        alpha = voters / (voters + self.prior)
        return ((1 - alpha) * np.asarray(scores, float) + alpha * share).astype(np.float32)

    def with_radius(self, radius: float) -> FeedbackMemory:
        return FeedbackMemory(self.vectors, self.bad, self.k, radius, self.temperature, self.prior)

    def save(self, path: Path) -> None:
        np.savez(path, vectors=self.vectors.astype(np.float16), bad=self.bad.astype(np.uint8),
                            params=np.array([self.k, self.radius, self.temperature, self.prior]))

    @classmethod
    def load(cls, path: Path) -> FeedbackMemory:
        with np.load(path) as data:
            k, radius, temperature, prior = data["params"].tolist()
            return cls(data["vectors"].astype(np.float32), data["bad"].astype(np.float32), int(k), radius,
                       temperature, prior)


def base_key(router: Any) -> str:
    """What identifies the router a memory was learned on top of."""
    return f"{router.id}@{(getattr(router, 'card', None) or {}).get('trained_at', 'untrained')}"


class LearnedRouter:
    """A router file's scores adjusted by the app's feedback memory; thresholds from ``card["thresholds"]``."""

    def __init__(self, base: Any, memory: FeedbackMemory, card: dict):
        self.base, self.memory, self.card = base, memory, card
        self.id = f"{base.id}+{card['version']}"

    def __getattr__(self, name: str) -> Any:  # kind, path, local_model ... are the base router's
        return getattr(self.base, name)

    def score(self, vectors: np.ndarray) -> np.ndarray:
        return self.memory.adjust(self.base.score(vectors), vectors)

    def threshold_for_share(self, cloud_share: float) -> float:
        table = self.card.get("thresholds") or []
        return threshold_from_table(table, cloud_share) if table else self.base.threshold_for_share(cloud_share)

    @classmethod
    def load(cls, base: Any, card_path: Path) -> LearnedRouter:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        if card.get("base_router") != base_key(base):
            raise RouterModelError(f"{card_path} was learned on top of {card.get('base_router')}, not "
                                   f"{base_key(base)}; "
                                   "run `edge-router learn` again, or `edge-router router rollback`.")
        return cls(base, FeedbackMemory.load(card_path.with_suffix(".npz")), card)
