"""Counters and histograms in the Prometheus text format, without a client library."""

from __future__ import annotations

import bisect
import threading

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class Registry:
    """Thread-safe counters and histograms, rendered by ``render()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[tuple[str, str], float] = {}
        self._histograms: dict[tuple[str, str], list] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + value

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = (name, _labels(labels))
        with self._lock:
            hist = self._histograms.setdefault(key, [[0] * len(LATENCY_BUCKETS_MS), 0.0, 0])
            index = bisect.bisect_left(LATENCY_BUCKETS_MS, value)
            for i in range(index, len(LATENCY_BUCKETS_MS)):
                hist[0][i] += 1
            hist[1] += value
            hist[2] += 1

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters.get((name, _labels(labels)), 0.0)

    def render(self) -> str:
        lines = []
        with self._lock:
            for name, (kind, text) in sorted(self._help.items()):
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for (metric, labels), value in sorted(self._counters.items()):
                    if metric == name:
                        lines.append(f"{name}{labels} {value:g}")
                for (metric, labels), (buckets, total, count) in sorted(self._histograms.items()):
                    if metric != name:
                        continue
                    base = labels[1:-1] + "," if labels else ""
                    for bound, n in zip(LATENCY_BUCKETS_MS, buckets):
                        lines.append(f'{name}_bucket{{{base}le="{bound}"}} {n}')
                    lines.append(f'{name}_bucket{{{base}le="+Inf"}} {count}')
                    lines += [f"{name}_sum{labels} {total:g}", f"{name}_count{labels} {count}"]
        return "\n".join(lines) + "\n"
