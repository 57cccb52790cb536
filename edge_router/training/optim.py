"""What the numpy-trained routers and classifiers share: Adam, and the softmax of their outputs."""

from __future__ import annotations

import numpy as np


def adam(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: dict, *, lr: float,
         beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam step, in place."""
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    for name, g in grads.items():
        m = state.setdefault(f"m_{name}", np.zeros_like(g))
        v = state.setdefault(f"v_{name}", np.zeros_like(g))
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        params[name] -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
