"""A probe on the local model's own state: P(its answer will be wrong) from the prefill, before any token.

The probe reads one layer of ``LocalLLM.prefill_state`` (the last prompt token's residual stream, or its mean
over the prompt), standardises it and applies a logistic model (Kossen et al. 2024, semantic entropy probes:
the state before generation already says how sure the model is). The probe file is JSON: the local model it
was trained for, the layer and pooling, the scaling, the weights, and the thresholds of its calibration
split; ``models/probes/build_state.py`` writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, RouterModelError


@dataclass(frozen=True)
class StateProbe:
    """P(local answer wrong) from one layer of the prefill state."""

    local_model: str
    layer: int
    pooling: str
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    thresholds: dict[str, float]

    @classmethod
    def load(cls, path: str | Path) -> StateProbe:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            probe = cls(local_model=data["local_model"], layer=int(data["layer"]), pooling=data["pooling"],
                        mean=np.asarray(data["mean"], np.float32), scale=np.asarray(data["scale"], np.float32),
                        weights=np.asarray(data["weights"], np.float32), bias=float(data["bias"]),
                        thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RouterModelError(f"{path} is not a prefill-state probe file ({exc}); rebuild it with "
                                   "models/probes/build_state.py.") from exc
        if not (probe.mean.shape == probe.scale.shape == probe.weights.shape) or probe.pooling not in ("last", "mean"):
            raise RouterModelError(f"{path}: the probe's scaling and weights do not agree; rebuild it.")
        return probe

    def save(self, path: str | Path, **card: object) -> Path:
        path = Path(path)
        data = {"local_model": self.local_model, "layer": self.layer, "pooling": self.pooling,
                "mean": [round(float(v), 6) for v in self.mean], "scale": [round(float(v), 6) for v in self.scale],
                "weights": [round(float(v), 7) for v in self.weights], "bias": self.bias,
                "thresholds": self.thresholds, **card}
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")
        return path

    def features(self, state) -> np.ndarray:
        """The probe's layer of a ``PrefillState``."""
        rows = state.last if self.pooling == "last" else state.mean
        if self.layer >= len(rows) or rows.shape[1] != len(self.weights):
            raise InvalidInputError(f"This probe reads layer {self.layer} of width {len(self.weights)}; the local "
                                    f"model's state has {len(rows)} layers of width {rows.shape[1]}: it was "
                                    f"trained for {self.local_model}.")
        return rows[self.layer]

    def score_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """P(local answer wrong) for rows of this layer's states (n x width)."""
        z = ((np.atleast_2d(vectors) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, state) -> float:
        return float(self.score_vectors(self.features(state))[0])

    def threshold_for_share(self, share: float) -> float:
        """The calibrated threshold that offloads about ``share`` of prompts like the calibration ones."""
        if not self.thresholds:
            raise RouterModelError("This probe has no calibrated thresholds.")
        key = min(self.thresholds, key=lambda k: abs(float(k) - share))
        return self.thresholds[key]
