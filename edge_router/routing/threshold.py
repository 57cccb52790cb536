"""Which router threshold applies to a query: fixed, calibrated for a cloud share or a quality, or following an
online budget.

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
    """The router's offload threshold. ``threshold``, ``cloud_share`` and ``quality_target`` exclude each other;
    ``cloud_share`` needs a calibrated ``router``, ``quality_target`` one with calibration outcomes (the prefill
    probe's policy); ``budget_window`` keeps ``cloud_share`` over the last N decisions."""

    def __init__(self, router: _Calibrated | None, *, threshold: float | None = None,
                 cloud_share: float | None = None, budget_window: int | None = None,
                 quality_target: float | None = None):
        check(router_present=router is not None, threshold=threshold, cloud_share=cloud_share,
              budget_window=budget_window, quality_target=quality_target)
        self._router, self.quality_target = router, quality_target
        self.source = "given"
        if quality_target is not None:
            if not hasattr(router, "threshold_for_quality"):
                raise ConfigurationError("quality_target is read from the prefill probe's calibration rows; this "
                                         "decision has no prefill probe (give cloud_share or threshold instead).")
            threshold = router.threshold_for_quality(quality_target)
            self.source = (f"calibrated to send the cloud {quality_target:.0%} of the calibration queries only it "
                           "answered right")
        elif cloud_share is not None:
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
          budget_window: int | None, quality_target: float | None = None) -> None:
    """Refuse threshold settings that cannot work together, before any model loads."""
    if threshold is not None and cloud_share is not None:
        raise ConfigurationError("give either a threshold or a target cloud_share, not both.")
    if quality_target is not None:
        if threshold is not None or cloud_share is not None or budget_window is not None:
            raise ConfigurationError("quality_target sets the threshold: leave threshold, cloud_share and "
                                     "budget_window unset, or drop quality_target.")
        if isinstance(quality_target, bool) or not isinstance(quality_target, (int, float)) \
                or not 0.0 < quality_target <= 1.0:
            raise ConfigurationError(f"quality_target is a share in (0, 1] of the queries only the cloud answers "
                                     f"right, not {quality_target!r}.")
        if not router_present:
            raise ConfigurationError("quality_target needs the trained router with the prefill probe.")
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
