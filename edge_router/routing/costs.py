"""What a decision costs, and the cascade's per-stage thresholds that make it cheapest.

``DecisionPrices`` (settable) puts a price on a worse answer (the local answer wrong where the cloud's would be
right), on a second of the device's compute and on a second the user waits; the cloud's own price per query comes
from its token prices. ``CostMeter`` measures online what those prices multiply: each route's seconds per answer
(so a slow network keeps more on the device), the answers' length, and the prefill probe's milliseconds per prompt
token. ``Cascade`` turns them into the two decisions the prefill probe's stage makes: whether to run the probe at
all (``ProbeBand``: router scores below ``lo`` stay local and above ``hi`` go to the cloud without it, chosen as the
band of least expected cost on the policy file's calibration rows, a row kept local costing a worse answer times
its calibrated probability) and, when offloading by cost, the probability of "only the cloud answer is right" above
which the cloud is the cheaper route.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import defaults
from ..backends.completions import Usage
from ..errors import ConfigurationError

SHARE_TOLERANCE = 0.02  # how far a band may move the calibration rows' cloud share (or quality) from its target
_GRID = np.linspace(0.0, 1.0, 21)  # the band's candidate ends, as quantiles of the calibration router scores


@dataclass(frozen=True)
class DecisionPrices:
    """USD for a worse answer, a second of device compute and a second of the user's waiting."""

    wrong_answer_usd: float = defaults.WRONG_ANSWER_USD
    device_second_usd: float = defaults.DEVICE_SECOND_USD
    wait_second_usd: float = defaults.WAIT_SECOND_USD

    def __post_init__(self) -> None:
        for name in ("wrong_answer_usd", "device_second_usd", "wait_second_usd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} is a price in USD, 0 or more, not {value!r}.")
        if self.wrong_answer_usd <= 0:
            raise ConfigurationError("wrong_answer_usd must be above 0: it is what the cloud's price is weighed "
                                     "against.")


@dataclass(frozen=True)
class CalibrationRows:
    """The policy's calibration rows: router score, combined score (a calibrated P(only the strong answer is
    right)), the prompt's length in local tokens and, where known, whether only the strong answer was right."""

    router: np.ndarray
    combined: np.ndarray
    tokens: np.ndarray
    better: np.ndarray | None = None

    def threshold_for_quality(self, quality: float) -> float:
        """The highest threshold on the combined score that sends the cloud ``quality`` of the rows where only the
        strong answer was right (the fewest queries offloaded for that share of what the cloud adds)."""
        if self.better is None or not self.better.any():
            raise ConfigurationError("A quality target needs calibration rows with outcomes; rebuild the policy "
                                     "with models/probes/build_state.py.")
        if not 0.0 < quality <= 1.0:
            raise ConfigurationError(f"quality_target is a share in (0, 1], not {quality!r}.")
        gains = np.sort(self.combined[self.better])[::-1]
        return float(gains[max(math.ceil(quality * len(gains) - 1e-9) - 1, 0)])

    def quality(self, offloaded: np.ndarray) -> np.ndarray:
        """The share of the rows where only the strong answer was right that ``offloaded`` (rows last) sends out."""
        return (offloaded & self.better).sum(-1) / max(int(self.better.sum()), 1)


@dataclass(frozen=True)
class ProbeBand:
    """Router scores in [lo, hi] run the prefill probe; below stay local, above go to the cloud without it.
    ``probed`` is the share of calibration rows it probes, ``cost_usd`` their expected cost per query."""

    lo: float
    hi: float
    probed: float
    cost_usd: float

    def route_without_probe(self, router_score: float) -> str | None:
        """``local`` or ``cloud`` where the router's score lies outside the band, None inside."""
        return "local" if router_score < self.lo else "cloud" if router_score > self.hi else None


def routes(router: np.ndarray, combined: np.ndarray, threshold, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(probed, offloaded) for rows of router and combined scores under the bands [lo, hi] and ``threshold``
    (arrays broadcast): inside a band the combined score decides, outside it the router's side of the band."""
    probed = (router >= lo) & (router <= hi)
    return probed, np.where(probed, combined >= threshold, router > hi)


class _Average:
    """An exponentially weighted mean; None until the first value."""

    def __init__(self, weight: float = 0.2, initial: float | None = None):
        self.weight, self.value, self.count = weight, initial, 0

    def add(self, x: float) -> None:
        self.value = x if self.value is None or self.count == 0 else self.value + self.weight * (x - self.value)
        self.count += 1


class CostMeter:
    """What each route has cost on this device and network, measured as answers come back (thread-safe)."""

    def __init__(self, probe_ms_per_token: float | None = None, probe_kept_ms: float | None = None):
        self._lock = threading.Lock()
        self.cloud_s, self.local_s, self.answer_tokens = _Average(), _Average(), _Average()
        self.probe_ms_per_token = _Average(initial=probe_ms_per_token)
        self.probe_kept_ms = _Average(initial=probe_kept_ms)

    def observe_answer(self, route: str, answer_ms: float, completion_tokens: int | None) -> None:
        with self._lock:
            (self.cloud_s if route == "cloud" else self.local_s).add(answer_ms / 1e3)
            if completion_tokens:
                self.answer_tokens.add(float(completion_tokens))

    def observe_probe(self, ms: float, prompt_tokens: int, *, stopped: bool) -> None:
        """A probe that stopped the prefill (its prompt was offloaded) cost ``ms`` for nothing else. One that did
        not only added its reading to a prefill the answer needed: its ``ms`` are mostly that prefill, so the
        reading's own cost stays the one measured at build (``probe_kept_ms``)."""
        with self._lock:
            if stopped and prompt_tokens > 0:
                self.probe_ms_per_token.add(ms / prompt_tokens)

    def snapshot(self) -> dict[str, float | None]:
        with self._lock:
            return {"cloud_s": self.cloud_s.value, "local_s": self.local_s.value,
                    "answer_tokens": self.answer_tokens.value, "probe_ms_per_token": self.probe_ms_per_token.value,
                    "probe_kept_ms": self.probe_kept_ms.value}


class Cascade:
    """The prefill probe's band and the cost-based offload threshold, from ``rows``, ``prices``, the cloud's
    ``token_prices`` (a ``Prices``; None: unknown, priced at 0) and what ``meter`` measured."""

    def __init__(self, rows: CalibrationRows, prices: DecisionPrices, meter: CostMeter, token_prices: Any = None):
        if len(rows.router) == 0:
            raise ConfigurationError("The policy file has no calibration rows to choose the probe's band on; "
                                     "rebuild it with models/probes/build_state.py.")
        self.rows, self.prices, self.meter, self.token_prices = rows, prices, meter, token_prices
        self._cache: dict[tuple, ProbeBand] = {}

    def cloud_usd(self, prompt_tokens: np.ndarray | int, max_tokens: int) -> np.ndarray | float:
        """The cloud's price of a query of ``prompt_tokens`` (answers as long as measured, else ``max_tokens``)."""
        if self.token_prices is None:
            return 0.0 * prompt_tokens
        out = self.meter.snapshot()["answer_tokens"] or max_tokens
        return self.token_prices.cost(Usage(prompt_tokens, out))  # arrays of prompts priced at once too

    def _route_usd(self) -> float:
        """The measured time cost of a cloud answer over a local one (0 until both were measured)."""
        m, p = self.meter.snapshot(), self.prices
        local_s = m["local_s"] or 0.0
        waited = (m["cloud_s"] - local_s) if m["cloud_s"] is not None and m["local_s"] is not None else 0.0
        return p.wait_second_usd * waited - p.device_second_usd * local_s

    def offload_threshold(self, prompt_tokens: int, max_tokens: int) -> float:
        """P(only the cloud answer is right) above which the cloud is the cheaper route for this query."""
        extra = float(self.cloud_usd(prompt_tokens, max_tokens)) + self._route_usd()
        return min(max(extra / self.prices.wrong_answer_usd, 0.0), 1.0)

    def band(self, threshold: float, max_tokens: int, *, keep: str | None) -> ProbeBand:
        """The band of least expected cost on the calibration rows when the probe's combined score offloads at
        ``threshold``. ``keep="share"`` allows only bands that keep the rows' cloud share within
        ``SHARE_TOLERANCE`` of probing every row (so a calibrated share stays what it was calibrated for);
        ``keep="quality"`` only bands that send out at most ``SHARE_TOLERANCE`` less of the rows only the cloud
        answers right, and at most that much more of all rows; None: any band."""
        if keep not in (None, "share", "quality"):
            raise ValueError(f"keep is 'share', 'quality' or None, not {keep!r}")
        m = self.meter.snapshot()
        measured = (None if v is None else float(f"{v:.2g}") for v in m.values())  # two significant digits
        key = (round(threshold, 3), keep, max_tokens, *measured)
        if key not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = self._cheapest(threshold, max_tokens, keep, m)
        return self._cache[key]

    def _cheapest(self, threshold: float, max_tokens: int, keep: str | None, m: dict) -> ProbeBand:
        rows, p = self.rows, self.prices
        r = rows.router[None, None, :]
        cloud = np.asarray(self.cloud_usd(rows.tokens, max_tokens)) + self._route_usd()
        worse = p.wrong_answer_usd * rows.combined  # a row's expected loss kept local: its calibrated P(better)
        per_second = p.device_second_usd + p.wait_second_usd
        stopped_usd = per_second * rows.tokens * (m["probe_ms_per_token"] or 0.0) / 1e3
        kept_usd = per_second * (m["probe_kept_ms"] or 0.0) / 1e3
        ends = np.quantile(rows.router, _GRID)
        lo = np.concatenate([[-np.inf], ends])[:, None, None]
        hi = np.concatenate([ends, [np.inf]])[None, :, None]
        probed, offload = routes(r, rows.combined, threshold, lo, hi)
        cost = (np.where(offload, cloud, worse) + probed * np.where(offload, stopped_usd, kept_usd)).mean(-1)
        allowed = lo[..., 0] <= hi[..., 0]
        every = rows.combined >= threshold  # the probe on every row
        if keep == "quality" and rows.better is not None:  # as much quality, for no more offloaded
            allowed &= (rows.quality(offload) >= rows.quality(every) - SHARE_TOLERANCE) & \
                (offload.mean(-1) <= every.mean() + SHARE_TOLERANCE)
        elif keep is not None:
            allowed &= np.abs(offload.mean(-1) - every.mean()) <= SHARE_TOLERANCE
        share_probed = probed.mean(-1)
        cost = np.where(allowed, cost, np.inf)
        # the cheapest band; on equal cost (to a millionth of a cent) the one probing most rows, then the widest
        width = np.arange(hi.shape[1])[None, :] - np.arange(lo.shape[0])[:, None]
        order = np.lexsort((-width.ravel(), -share_probed.ravel(), np.round(cost.ravel(), 8)))
        i, j = np.unravel_index(order[0], cost.shape)
        return ProbeBand(float(lo[i, 0, 0]), float(hi[0, j, 0]), float(share_probed[i, j]), float(cost[i, j]))
