"""The default decision's policy file: how the router's score and the prefill probe's are combined.

``policy.json`` (``models/routers/``, written by ``models/probes/build_state.py``) holds the weights of a logistic
combination of logit(router score) and logit(probe score), fitted on the calibration split of the label rows and
GSM8K training answers (target: only the strong answer was right), and the thresholds of its calibration scores for
each cloud share. Scores near the threshold keep their order: the combination is continuous. It also keeps the
calibration rows themselves (router score, probe score, whether only the strong answer was right, prompt tokens)
and the probe's measured cost (``probe_ms``), from which ``routing.costs.Cascade`` chooses when to run the probe.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigurationError, RouterModelError
from ..files import shipped
from ..uncertainty.state_probe import StateProbe
from .costs import CalibrationRows


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class CombinationPolicy:
    """P(only the strong answer is right) from the router's and the prefill probe's scores."""

    router_weight: float
    probe_weight: float
    bias: float
    thresholds: dict[str, float]
    local_model: str
    calibration_rows: tuple[tuple[float, float, bool, int], ...] = ()
    probe_ms: dict[str, float] = field(default_factory=dict)  # offloaded_per_token, kept: measured at build

    @classmethod
    def load(cls, path: str | Path) -> CombinationPolicy:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            rows = tuple((float(r), float(p), bool(b), int(n)) for r, p, b, n in data.get("calibration_rows", ()))
            return cls(float(data["router_weight"]), float(data["probe_weight"]), float(data["bias"]),
                       {k: float(v) for k, v in data["thresholds"].items()}, data["local_model"], rows,
                       {k: float(v) for k, v in data.get("probe_ms", {}).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RouterModelError(f"{path} is not a policy file ({exc}); rebuild it with "
                                   "models/probes/build_state.py.") from exc

    def score(self, router_score: float, probe_score: float) -> float:
        z = self.router_weight * _logit(router_score) + self.probe_weight * _logit(probe_score) + self.bias
        return 1.0 / (1.0 + math.exp(-z))

    def calibration(self) -> CalibrationRows:
        """The calibration rows with their combined scores."""
        rows = np.asarray([r[:2] for r in self.calibration_rows], dtype=float).reshape(-1, 2)
        combined = np.asarray([self.score(r, p) for r, p in rows])
        return CalibrationRows(rows[:, 0], combined, np.asarray([r[3] for r in self.calibration_rows], dtype=float),
                               np.asarray([r[2] for r in self.calibration_rows], dtype=bool))

    def threshold_for_quality(self, quality: float) -> float:
        """The threshold that sends the cloud ``quality`` of the calibration rows only it answered right."""
        return self.calibration().threshold_for_quality(quality)

    def threshold_for_share(self, share: float) -> float:
        key = min(self.thresholds, key=lambda k: abs(float(k) - share))
        return self.thresholds[key]


def shipped_prefill_probe(local_id: str):
    """The shipped prefill probe and its combination policy, for the local model ``local_id``."""
    probe_path, policy_path = shipped.shipped_state_probe(), shipped.shipped_policy()
    if probe_path is None or policy_path is None:
        raise ConfigurationError("No prefill probe ships with this package (models/probes/prefill_state.json, "
                                 "models/routers/policy.json); build them with models/probes/build_state.py.")
    probe, policy = StateProbe.load(probe_path), CombinationPolicy.load(policy_path)
    if probe.local_model != local_id:
        raise ConfigurationError(f"The shipped prefill probe reads {probe.local_model}'s state, not {local_id}'s; "
                                 "train one for your model with models/probes/build_state.py.")
    return probe, policy
