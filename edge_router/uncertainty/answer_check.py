"""Confidence from the local answer itself: signals read from its first tokens, and a probe over them.

While the local model streams, every token's log-probability and entropy come with it at almost no cost.
Over the first ``n`` tokens they give a handful of signals (``SIGNALS``); a logistic probe over those (and
optionally the query's embedding) estimates P(the local answer is wrong). ``AnswerCheck`` holds the first
``n`` tokens of a local answer back, scores them, and either lets the answer continue or hands the query
to the cloud. The probe file is JSON (weights, feature scaling, ``n``, the threshold table of its
calibration split), written by ``models/probes/build.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..backends.token_stats import TokenStats
from ..errors import InvalidInputError, RouterModelError

SIGNALS = ("mean_logprob", "min_logprob", "mean_entropy", "max_entropy", "logprob_slope", "entropy_slope",
           "first_logprob", "n_tokens")


def _slope(values: np.ndarray) -> float:
    if len(values) < 2:
        return 0.0
    x = np.arange(len(values), dtype=np.float64)
    x -= x.mean()
    return float(x @ (values - values.mean()) / (x @ x))


def answer_signals(stats: Sequence[TokenStats], n: int) -> dict[str, float]:
    """The signals of an answer's first ``n`` tokens (an empty answer: zero surprise, zero entropy)."""
    head = list(stats)[:n]
    if not head:
        return dict.fromkeys(SIGNALS, 0.0)
    logprobs = np.array([s.logprob for s in head], np.float64)
    entropies = np.array([s.entropy for s in head], np.float64)
    return {
        "mean_logprob": float(logprobs.mean()), "min_logprob": float(logprobs.min()),
        "mean_entropy": float(entropies.mean()), "max_entropy": float(entropies.max()),
        "logprob_slope": _slope(logprobs), "entropy_slope": _slope(entropies),
        "first_logprob": float(logprobs[0]), "n_tokens": float(len(head)),
    }


@dataclass(frozen=True)
class AnswerProbe:
    """A logistic probe: P(local answer wrong) from the signals of the first ``n_tokens`` tokens, and from the
    query embedding when ``embedder_id`` is set."""

    n_tokens: int
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    embedder_id: str | None
    thresholds: tuple[dict, ...] = ()

    @property
    def uses_embedding(self) -> bool:
        return self.embedder_id is not None

    def features(self, stats: Sequence[TokenStats], query_vector: np.ndarray | None = None) -> np.ndarray:
        values = np.array([answer_signals(stats, self.n_tokens)[k] for k in SIGNALS], np.float64)
        if self.uses_embedding:
            if query_vector is None:
                raise InvalidInputError("this answer probe reads the query embedding too: pass query_vector.")
            values = np.concatenate([values, np.asarray(query_vector, np.float64).ravel()])
        return values

    def score(self, stats: Sequence[TokenStats], query_vector: np.ndarray | None = None) -> float:
        """P(the local answer is wrong)."""
        z = (self.features(stats, query_vector) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    def threshold_for_share(self, cloud_share: float) -> float:
        """The threshold that sent ``cloud_share`` of the calibration answers to the cloud."""
        if not self.thresholds:
            raise RouterModelError("this answer probe has no calibrated thresholds.")
        row = min(self.thresholds, key=lambda r: abs(r["cloud_share"] - cloud_share))
        return float(row["threshold"])

    def to_dict(self) -> dict:
        return {"n_tokens": self.n_tokens, "signals": list(SIGNALS), "weights": self.weights.tolist(),
                "bias": self.bias, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "embedder_id": self.embedder_id, "thresholds": list(self.thresholds)}

    @classmethod
    def load(cls, path: str | Path) -> AnswerProbe:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["signals"] != list(SIGNALS):
                raise ValueError(f"signals {data['signals']} are not this version's {list(SIGNALS)}")
            probe = cls(n_tokens=int(data["n_tokens"]), weights=np.array(data["weights"], np.float64),
                        bias=float(data["bias"]), mean=np.array(data["mean"], np.float64),
                        scale=np.array(data["scale"], np.float64), embedder_id=data["embedder_id"],
                        thresholds=tuple(data.get("thresholds", ())))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RouterModelError(f"{path} is not an answer-probe file ({exc}); rebuild it with "
                                   "`python models/probes/build.py`.") from exc
        if not len(probe.weights) == len(probe.mean) == len(probe.scale):
            raise RouterModelError(f"{path}: weights and feature scaling have different lengths; rebuild it.")
        return probe


@dataclass(frozen=True)
class AnswerCheck:
    """Hold a local answer's first ``probe.n_tokens`` tokens; offload when the probe's P(wrong) reaches
    ``threshold``."""

    probe: AnswerProbe
    threshold: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise InvalidInputError(f"the answer check's threshold is a probability in [0, 1], not {self.threshold}.")

    @property
    def hold_tokens(self) -> int:
        return self.probe.n_tokens


def load_answer_check(probe_path: str | Path | None = None, *, threshold: float | None = None,
                      cloud_share: float | None = None) -> AnswerCheck:
    """The answer check with ``probe_path`` (default: the shipped probe), offloading at ``threshold`` or at the
    probe's calibrated threshold for ``cloud_share`` (default ``defaults.CHECK_SHARE``)."""
    from .. import defaults
    from ..errors import ConfigurationError
    from ..files.shipped import shipped_probe

    if threshold is not None and cloud_share is not None:
        raise ConfigurationError("give the answer check either a threshold or a cloud share, not both.")
    path = Path(probe_path) if probe_path else shipped_probe()
    if path is None:
        raise ConfigurationError("No answer-check probe ships with this package; pass a probe file (probe_path=, "
                                 "--probe PATH) made by models/probes/build.py.")
    probe = AnswerProbe.load(path)
    if threshold is None:
        threshold = probe.threshold_for_share(defaults.check_cloud_share(
            defaults.CHECK_SHARE if cloud_share is None else cloud_share))
    return AnswerCheck(probe, threshold)
