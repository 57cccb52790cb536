"""Timing loops and latency statistics."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation), mean, min and count of latencies in ms."""
    if not samples_ms:
        raise ValueError("no samples to summarize")
    a = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(a.mean()),
            "min": float(a.min()), "n": int(a.size)}


def repeat(fn: Callable[[], Any], *, reps: int, warmup: int) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``reps`` times; the timed calls' ms."""
    if reps < 1 or warmup < 0:
        raise ValueError(f"need reps >= 1 and warmup >= 0, got reps={reps}, warmup={warmup}")
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out
