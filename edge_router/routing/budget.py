"""An online cloud budget: move the router threshold so the realised cloud share tracks a target."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from ..defaults import check_cloud_share
from ..errors import ConfigurationError


class CloudBudget:
    """Sends about ``target_share`` of queries to the cloud, measured over the last ``window`` decisions.

    The threshold is the (1 − target) quantile of the router scores seen in the
    window, so it follows drift in the prompts the app actually gets; until
    ``min_history`` scores have been seen (default: 20, or the window if smaller),
    ``initial_threshold`` (the calibrated one) is used.
    """

    def __init__(self, target_share: float, *, initial_threshold: float, window: int = 200,
                 min_history: int | None = None):
        target_share = check_cloud_share(target_share)
        min_history = min(20, window) if min_history is None else min_history
        if window < 1 or not 1 <= min_history <= window:
            raise ConfigurationError(f"need window >= 1 and 1 <= min_history <= window (got {window}, {min_history}).")
        self.target_share = target_share
        self.initial_threshold = initial_threshold
        self.min_history = min_history
        self._scores: deque[float] = deque(maxlen=window)
        self._routed_cloud: deque[bool] = deque(maxlen=window)
        self._lock = threading.Lock()

    def threshold(self) -> float:
        with self._lock:
            if len(self._scores) < self.min_history:
                return self.initial_threshold
            return float(np.quantile(np.fromiter(self._scores, float), 1 - self.target_share, method="higher"))

    def record(self, score: float, to_cloud: bool) -> None:
        with self._lock:
            self._scores.append(score)
            self._routed_cloud.append(to_cloud)

    def realised_share(self) -> float | None:
        with self._lock:
            return sum(self._routed_cloud) / len(self._routed_cloud) if self._routed_cloud else None
