"""Which router threshold applies to a query: fixed, calibrated for a cloud share, or following an online budget.

One object owns the rule and its checks, so the router, the CLI and the server cannot disagree on it: a per-call
cloud share wins, then the online budget, then the fixed (or calibrated) threshold. Given neither a threshold nor a
share, a calibrated router offloads at its threshold for ``defaults.CLOUD_SHARE``; one without a calibration table at
``defaults.THRESHOLD``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .. import defaults
from ..errors import ConfigurationError, RouterModelError
from .budget import CloudBudget

log = logging.getLogger(__name__)


class _Calibrated(Protocol):
    def threshold_for_share(self, share: float) -> float: ...


class ThresholdPolicy:
    """The router's offload threshold. ``threshold`` and ``cloud_share`` exclude each other; ``cloud_share`` needs a
    calibrated ``router``; ``budget_window`` keeps ``cloud_share`` over the last N decisions."""

    def __init__(self, router: _Calibrated | None, *, threshold: float | None = None,
                 cloud_share: float | None = None, budget_window: int | None = None):
        check(router_present=router is not None, threshold=threshold, cloud_share=cloud_share,
              budget_window=budget_window)
        self._router = router
        self.source = "given"
        if cloud_share is not None:
            threshold = router.threshold_for_share(defaults.check_cloud_share(cloud_share))
            self.source = f"calibrated for a {cloud_share:.0%} cloud share"
        elif threshold is None and router is not None:
            try:
                threshold = router.threshold_for_share(defaults.CLOUD_SHARE)
                self.source = f"calibrated for the default {defaults.CLOUD_SHARE:.0%} cloud share"
            except RouterModelError:
                log.info("the router has no calibration table: offloading at the fixed threshold %g",
                         defaults.THRESHOLD)
                self.source = "fixed default (the router has no calibration table)"
        self.fixed = defaults.THRESHOLD if threshold is None else float(threshold)
        self.budget = (CloudBudget(cloud_share, initial_threshold=self.fixed, window=budget_window)
                       if budget_window is not None else None)

    def threshold(self, cloud_share: float | None = None) -> float:
        """The threshold for this query; ``cloud_share`` is a per-call target (the router's calibration)."""
        if cloud_share is not None:
            if self._router is None:
                raise ConfigurationError("a per-call cloud_share needs a calibrated router; this one has none.")
            return self._router.threshold_for_share(defaults.check_cloud_share(cloud_share))
        return self.budget.threshold() if self.budget else self.fixed

    def record(self, score: float, to_cloud: bool) -> float | None:
        """Note a routed score for the online budget; returns the realised cloud share (None without a budget)."""
        if self.budget is None:
            return None
        self.budget.record(score, to_cloud)
        return self.budget.realised_share()


def check(*, router_present: bool, threshold: float | None, cloud_share: float | None,
          budget_window: int | None) -> None:
    """Refuse threshold settings that cannot work together, before any model loads."""
    if threshold is not None and cloud_share is not None:
        raise ConfigurationError("give either a threshold or a target cloud_share, not both.")
    if threshold is not None and not router_present:
        raise ConfigurationError("threshold sets the trained router's offload score; there is no router "
                                 "(the gate's is gate_threshold).")
    if cloud_share is not None:
        defaults.check_cloud_share(cloud_share)
        if not router_present:
            raise ConfigurationError("a target cloud_share needs a calibrated router (router=).")
    if threshold is not None and (isinstance(threshold, bool) or not 0.0 <= threshold <= 1.0):
        raise ConfigurationError(f"threshold is a probability in [0, 1], not {threshold}.")
    if budget_window is not None:
        if cloud_share is None:
            raise ConfigurationError("budget_window keeps a target cloud_share: pass cloud_share= too.")
        if isinstance(budget_window, bool) or not isinstance(budget_window, int) or budget_window < 1:
            raise ConfigurationError(f"budget_window is a positive number of decisions, not {budget_window!r}.")
