"""Routing-quality metrics of RouteLLM (arXiv 2406.18665) as used by the semantic-entropy routing paper.

A router gives each query a score (higher: send to the strong model). At a share ``c`` of strong calls
the top ``c·n`` queries by score go to the strong model, the rest to the weak one, and r(c) is the mean
outcome (accuracy, or mean judge score). Tied scores are split evenly in expectation, so a constant score
behaves like random routing, not like an arbitrary order.

- PGR(c) = (r(c) − r_weak) / (r_strong − r_weak)
- CPT(x) = the smallest c with PGR(c) ≥ x, interpolated linearly between measured points
- APGR = the area under PGR(c) for c in [0, 1] (trapezoids over the n + 1 points c = k/n)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends.completions import Prices
from ..errors import InvalidInputError


@dataclass(frozen=True)
class Curve:
    """r(c) and PGR(c) at c = 0, 1/n, …, 1."""

    shares: np.ndarray
    quality: np.ndarray
    pgr: np.ndarray

    def cpt(self, target: float) -> float:
        return cpt(self, target)

    def apgr(self) -> float:
        return float(np.sum((self.pgr[1:] + self.pgr[:-1]) / 2 * np.diff(self.shares)))


def _check(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> None:
    if not (len(scores) == len(strong) == len(weak)) or len(scores) == 0:
        raise InvalidInputError(
            f"scores, strong and weak outcomes need the same non-zero length (got {len(scores)}, "
            f"{len(strong)}, {len(weak)}).")
    if not np.all(np.isfinite(scores)):
        raise InvalidInputError("router scores contain NaN or infinity; check the router file.")


def routed_gain(scores, strong, weak) -> np.ndarray:
    """Total outcome gained by sending the top k queries to the strong model, for k = 0..n (ties averaged)."""
    scores, strong, weak = (np.asarray(a, dtype=np.float64) for a in (scores, strong, weak))
    _check(scores, strong, weak)
    gain = strong - weak
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_gain = scores[order], gain[order]
    # Replace each gain by the mean gain of its tie group: the expected gain under a random tie order.
    _, starts, counts = np.unique(-sorted_scores, return_index=True, return_counts=True)
    means = np.add.reduceat(sorted_gain, starts) / counts
    expected = np.repeat(means, counts)
    return np.concatenate([[0.0], np.cumsum(expected)])


def curve(scores, strong, weak) -> Curve:
    """The PGR curve of one router on one benchmark."""
    strong = np.asarray(strong, dtype=np.float64)
    weak = np.asarray(weak, dtype=np.float64)
    n = len(strong)
    quality = (weak.sum() + routed_gain(scores, strong, weak)) / n
    spread = strong.mean() - weak.mean()
    if abs(spread) < 1e-12:
        raise InvalidInputError("the strong and weak models score the same on this set; PGR is undefined.")
    return Curve(np.arange(n + 1) / n, quality, (quality - weak.mean()) / spread)


def cpt(c: Curve, target: float) -> float:
    """Smallest share of strong calls reaching PGR ≥ ``target`` (a fraction, e.g. 0.5), interpolated."""
    above = np.nonzero(c.pgr >= target - 1e-12)[0]
    if len(above) == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return 0.0
    x0, x1, y0, y1 = c.shares[i - 1], c.shares[i], c.pgr[i - 1], c.pgr[i]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0))


def strong_mask(scores, share: float) -> np.ndarray:
    """Which queries go to the strong model at ``share`` (top scores first; ties broken by position)."""
    scores = np.asarray(scores, dtype=np.float64)
    count = int(round(share * len(scores)))
    mask = np.zeros(len(scores), bool)
    mask[np.argsort(-scores, kind="stable")[:count]] = True
    return mask


@dataclass(frozen=True)
class PairPrices:
    """The prices of a model pair: one ``Prices`` (USD per million input and output tokens, the same class a
    ``CloudLLM`` is priced with) for the strong side and one for the weak side."""

    strong: Prices
    weak: Prices

    @classmethod
    def of(cls, strong_input: float, strong_output: float, weak_input: float, weak_output: float) -> PairPrices:
        return cls(Prices(strong_input, strong_output), Prices(weak_input, weak_output))

    def as_dict(self) -> dict[str, float]:
        return {"strong_input": self.strong.input_per_million, "strong_output": self.strong.output_per_million,
                "weak_input": self.weak.input_per_million, "weak_output": self.weak.output_per_million}


def cost_usd(mask, prices: PairPrices, *, input_tokens, strong_output_tokens, weak_output_tokens) -> float:
    """Cost of answering every query, the ``mask`` ones by the strong model."""
    mask = np.asarray(mask, bool)
    tokens_in = np.asarray(input_tokens, np.float64)
    strong = (tokens_in * prices.strong.input_per_million
              + np.asarray(strong_output_tokens, np.float64) * prices.strong.output_per_million)
    weak = (tokens_in * prices.weak.input_per_million
            + np.asarray(weak_output_tokens, np.float64) * prices.weak.output_per_million)
    return float(np.where(mask, strong, weak).sum() / 1e6)


def judge_scores(picks: list[set[str]], routers: list[str]) -> dict[str, float]:
    """score(i) = 100 · (queries where router i's answer was picked) / (queries).

    ``picks[q]`` is the set of routers whose answer to query q is the one the judge chose (routers that
    gave the same answer share the pick).
    """
    if not picks:
        raise InvalidInputError("no judged queries.")
    return {r: 100.0 * sum(r in chosen for chosen in picks) / len(picks) for r in routers}


def __getattr__(name: str):
    """``Prices`` (four keyword prices) was this module's name for ``PairPrices``; kept with a warning."""
    if name != "Prices":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn("edge_router.evaluation.quality.Prices is now PairPrices (PairPrices.of(strong_input, "
                  "strong_output, weak_input, weak_output)); the old name will go away.", DeprecationWarning,
                  stacklevel=2)

    def legacy(strong_input: float, strong_output: float, weak_input: float, weak_output: float) -> PairPrices:
        return PairPrices.of(strong_input, strong_output, weak_input, weak_output)

    return legacy
