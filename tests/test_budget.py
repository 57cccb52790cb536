"""The online cloud budget keeps the realised share near its target, also when the traffic drifts."""

from __future__ import annotations

import numpy as np
import pytest

from edge_router.errors import ConfigurationError, InvalidInputError
from edge_router.routing.budget import CloudBudget


def run(budget: CloudBudget, scores: np.ndarray) -> float:
    sent = 0
    for score in scores:
        to_cloud = bool(score >= budget.threshold())
        budget.record(float(score), to_cloud)
        sent += to_cloud
    return sent / len(scores)


def test_share_converges_and_follows_drift():
    rng = np.random.default_rng(0)
    budget = CloudBudget(0.3, initial_threshold=0.9, window=200)
    assert budget.threshold() == 0.9, "the calibrated threshold is used until enough scores are seen"
    assert abs(run(budget, rng.uniform(size=2000)) - 0.3) < 0.05
    # traffic drifts towards higher scores: a fixed threshold would offload far more than 30 %
    drifted = np.clip(rng.uniform(size=2000) * 0.5 + 0.5, 0, 1)
    assert (drifted >= 0.7).mean() > 0.5
    assert abs(run(budget, drifted) - 0.3) < 0.05
    assert abs(budget.realised_share() - 0.3) < 0.08


def test_bad_settings_are_refused():
    with pytest.raises(InvalidInputError, match="strictly between 0 and 1"):
        CloudBudget(1.0, initial_threshold=0.5)
    with pytest.raises(ConfigurationError):
        CloudBudget(0.3, initial_threshold=0.5, window=10, min_history=20)
