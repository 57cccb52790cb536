"""Ranking and proportion metrics shared by calibration, training and benchmarks."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (ranks by order of appearance for ties)."""
    ra = np.asarray(a).argsort().argsort()
    rb = np.asarray(b).argsort().argsort()
    return float(np.corrcoef(ra, rb)[0, 1])


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties counted half.

    Returns NaN when one class is empty.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc_interval(scores: Sequence[float], positives: Sequence[bool], *, resamples: int = 1000,
                   seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95 % interval of ``auroc`` (resamples with one class missing are skipped)."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(positives, dtype=bool)
    rng = np.random.default_rng(seed)
    values = [auroc(s[i], y[i]) for i in (rng.integers(0, len(s), len(s)) for _ in range(resamples))]
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (95 % by default); NaNs when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
