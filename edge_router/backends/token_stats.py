"""What one generated token says about the model's confidence: its log-probability and the entropy of the
distribution it was drawn from, both from the full vocabulary's softmax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class TokenStats:
    """One generated token: its log-probability and the entropy (nats) of the distribution it came from."""

    logprob: float
    entropy: float


def as_lists(stats: Sequence[TokenStats], digits: int = 4) -> tuple[list[float], list[float]]:
    """The log-probabilities and the entropies of ``stats``, rounded for storing in a JSONL row."""
    return [round(s.logprob, digits) for s in stats], [round(s.entropy, digits) for s in stats]


def token_stats(logits: np.ndarray, token: int) -> TokenStats:
    """``TokenStats`` of ``token`` under the untempered softmax of ``logits`` (the full vocabulary).

    Element-wise numpy only: a BLAS call here wakes BLAS threads that then spin against llama.cpp's own
    threads between tokens (measured: the next decode step takes 2-3 times as long on two cores)."""
    shifted = logits - logits.max()
    weights = np.exp(shifted)
    total = float(weights.sum(dtype=np.float64))
    log_total = float(np.log(total))
    entropy = log_total - float((weights * shifted).sum(dtype=np.float64)) / total
    return TokenStats(logprob=float(shifted[token]) - log_total, entropy=max(float(entropy), 0.0))
