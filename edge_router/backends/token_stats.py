"""What one generated token says about the model's confidence: its log-probability and the entropy of the
distribution it was drawn from, both from the full vocabulary's softmax."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TokenStats:
    """One generated token: its log-probability and the entropy (nats) of the distribution it came from."""

    logprob: float
    entropy: float


def token_stats(logits: np.ndarray, token: int) -> TokenStats:
    """``TokenStats`` of ``token`` under the untempered softmax of ``logits`` (the full vocabulary)."""
    shifted = logits.astype(np.float64) - float(logits.max())
    weights = np.exp(shifted)
    total = weights.sum()
    log_total = float(np.log(total))
    entropy = log_total - float(weights @ shifted) / total
    return TokenStats(logprob=float(shifted[token]) - log_total, entropy=max(float(entropy), 0.0))
