"""Router trainers (numpy) with ONNX export: kNN, similarity-weighted (SW), matrix factorisation (MF), MLP.

Each takes L2-normalised query embeddings ``X`` and preference values ``y``
(1 = strong model wins, 0.5 = tie, 0 = weak model wins), scores new queries with
P(strong preferred), and exports a router file with the runtime's contract.
"""

from __future__ import annotations

from .knn import KnnRouter
from .mf import MFRouter
from .mlp import MLPRouter
from .sw import SWRouter

KINDS = {"knn": KnnRouter, "sw": SWRouter, "mf": MFRouter, "mlp": MLPRouter}

__all__ = ["KINDS", "KnnRouter", "MFRouter", "MLPRouter", "SWRouter"]
