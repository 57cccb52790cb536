"""Train routers from a label file, export them, check them, and write their cards.

For each kind: fit on the train split, score the calibration split (which also
serves as the validation split that picks a kind) and the test split, export the ONNX
file, check that onnxruntime gives the numpy model's scores (within 1e-5), and
for the kinds that store training embeddings (knn, sw) keep an int8 file when
its ranking agrees with float32 (Spearman ≥ 0.99). Every router file gets a JSON
card beside it (``<name>.json``). ``calibrate`` adds the thresholds that send
10 %, 20 % … 90 % of the calibration prompts to the cloud.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np

from ..backends.embedder import Embedder
from ..backends.router_model import RouterModel
from ..errors import InvalidInputError, RouterModelError
from ..files import registry
from ..metrics import auroc, spearman
from .labels import LABEL_VALUE, STRONG, read_rows
from .routers import KINDS

PARITY_TOLERANCE = 1e-5
INT8_MIN_SPEARMAN = 0.99
SHARES = tuple(round(0.1 * i, 1) for i in range(1, 10))

log = logging.getLogger(__name__)


def card_path(router_path: str | Path) -> Path:
    return Path(router_path).with_suffix(".json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _embedder_sha256(embedder: Embedder) -> str:
    spec = next((s for s in registry.specs_for_role("embedder") if s.name == embedder.id), None)
    return spec.sha256 if spec else _sha256(embedder.model_path)


TARGETS = ("se", "local-wrong")


def _target(row: dict, target: str) -> float:
    return LABEL_VALUE[row["label"]] if target == "se" else float(row["weak"]["correct"] is False)


def load_split(rows: list[dict], embedder: Embedder, target: str = "se") -> dict[str, dict]:
    """Embeddings, training targets and local correctness per split.

    ``target`` "se" learns the semantic-entropy preference labels; "local-wrong" learns whether the
    local greedy answer was wrong (an accuracy-label baseline; rows without a gold answer are left out).
    """
    if target not in TARGETS:
        raise InvalidInputError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}.")
    if target == "local-wrong":
        rows = [r for r in rows if r["weak"].get("correct") is not None]
    out = {}
    for split in ("train", "calibration", "test"):
        part = [r for r in rows if r["split"] == split]
        out[split] = {
            "X": embedder.embed([r["prompt"] for r in part]) if part else np.zeros((0, embedder.dim), np.float32),
            "y": np.array([_target(r, target) for r in part], np.float32),
            "strong_wins": np.array([r["label"] == STRONG for r in part]),
            "local_wrong": np.array([r["weak"].get("correct") is False for r in part]),
            "has_gold": np.array([r["weak"].get("correct") is not None for r in part]),
        }
    return out


def _metrics(scores: np.ndarray, part: dict) -> dict:
    gold = part["has_gold"]
    return {
        "auroc_strong_wins": auroc(scores, part["strong_wins"]),
        "auroc_local_wrong": auroc(scores[gold], part["local_wrong"][gold]) if gold.any() else None,
        "n": int(len(scores)),
        "share_strong_wins": float(part["strong_wins"].mean()) if len(scores) else None,
    }


def _check_parity(model, path: Path, embedder: Embedder, X: np.ndarray) -> float:
    onnx_scores = RouterModel(path, embedder_id=embedder.id, dim=embedder.dim).score(X)
    gap = float(np.abs(onnx_scores - model.score(X)).max()) if len(X) else 0.0
    if gap > PARITY_TOLERANCE:
        raise RouterModelError(f"{path}: onnxruntime and numpy scores differ by {gap:.2e} (> {PARITY_TOLERANCE}).")
    return gap


def train(label_path: str | Path, out_dir: str | Path, *, embedder: Embedder, kinds: list[str] | None = None,
          params: dict[str, dict] | None = None, target: str = "se") -> dict[str, dict]:
    """Train, export, check and card each kind; returns the cards by kind."""
    label_path, out_dir = Path(label_path), Path(out_dir)
    kinds = kinds or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InvalidInputError(f"unknown router kinds {unknown}; choose from {', '.join(KINDS)}.")
    rows = read_rows(label_path)
    if not rows:
        raise InvalidInputError(f"{label_path} has no label rows; run `edge-router label` first.")
    data = load_split(rows, embedder, target)
    if len(data["train"]["y"]) == 0:
        raise InvalidInputError(f"{label_path} has no rows in the train split.")
    warnings = size_warnings({split: len(part["y"]) for split, part in data.items()})
    for warning in warnings:
        log.warning("%s: %s", label_path, warning)
    held_out = np.concatenate([data["calibration"]["X"], data["test"]["X"]])
    cards = {}
    for kind in kinds:
        model = KINDS[kind](**(params or {}).get(kind, {})).fit(data["train"]["X"], data["train"]["y"])
        path = out_dir / f"{kind}.onnx"
        model.export(path, embedder_id=embedder.id)
        gap = _check_parity(model, path, embedder, held_out)
        int8 = None
        if kind in ("knn", "sw"):
            float_bytes = path.stat().st_size
            int8_path = out_dir / f"{kind}.int8.onnx"
            model.export(int8_path, embedder_id=embedder.id, int8=True)
            float_scores = RouterModel(path, embedder_id=embedder.id, dim=embedder.dim).score(held_out)
            int8_scores = RouterModel(int8_path, embedder_id=embedder.id, dim=embedder.dim).score(held_out)
            rho = spearman(float_scores, int8_scores) if len(held_out) > 2 else 1.0
            kept = bool(rho >= INT8_MIN_SPEARMAN)
            if kept:
                int8_path.replace(path)
            else:
                int8_path.unlink()
            int8 = {"float32_bytes": float_bytes, "int8_bytes": path.stat().st_size if kept else None,
                    "spearman_vs_float32": rho, "kept": kept}
        test_scores = model.score(data["test"]["X"])
        validation_scores = model.score(data["calibration"]["X"])
        card = {
            "kind": kind,
            "target": target,
            "file": path.name,
            "file_bytes": path.stat().st_size,
            "embedder_id": embedder.id,
            "embedder_sha256": _embedder_sha256(embedder),
            "training_data": {"path": str(label_path), "sha256": _sha256(label_path), "rows": len(rows),
                              "tau": rows[0].get("tau"), "clusterer": rows[0].get("clusterer"),
                              "k": rows[0].get("k"), "strong_sampled": rows[0]["strong"].get("sampled"),
                              "strong_model": rows[0]["strong"].get("model"),
                              "weak_model": rows[0]["weak"].get("model")},
            "sizes": {split: int(len(part["y"])) for split, part in data.items()},
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "params": {k: v for k, v in vars(model).items() if isinstance(v, (int, float, str))},
            "onnx_parity_max_abs_diff": gap,
            "int8": int8,
            "metrics_validation": _metrics(validation_scores, data["calibration"]),
            "metrics_test": _metrics(test_scores, data["test"]),
            "thresholds": calibration_table(validation_scores),
        }
        card_path(path).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        cards[kind] = dict(card, warnings=warnings) if warnings else card
    return cards


MIN_ROWS = {"train": 100, "calibration": 30, "test": 30}


def size_warnings(sizes: dict[str, int]) -> list[str]:
    """What is too small to trust, split by split (``MIN_ROWS``): a router fitted on a few rows ranks at chance,
    and an AUROC or a threshold from a few rows is noise."""
    return [f"only {n} {split} rows (fewer than {MIN_ROWS[split]}): "
            + ("the router will rank close to chance; label more prompts" if split == "train" else
               "its AUROC and thresholds are noise" if n else "nothing to measure on (AUROC undefined)")
            for split, n in sizes.items() if split in MIN_ROWS and n < MIN_ROWS[split]]


def _num(x) -> float:
    return -1.0 if x is None or (isinstance(x, float) and math.isnan(x)) else x


def chosen_kind(cards: dict[str, dict]) -> str:
    """The kind with the highest validation AUROC for "strong wins" (ties broken by "local answer wrong");
    the test split never takes part."""
    def key(kind: str) -> tuple[float, float]:
        m = cards[kind]["metrics_validation"]
        return _num(m["auroc_strong_wins"]), _num(m["auroc_local_wrong"])

    return max(cards, key=key)


def validation_lower_bound(card: dict) -> float:
    """The validation AUROC for "strong wins" minus 1.96 of its Hanley-McNeil standard error (-1 when
    undefined); a router is above chance when this is above 0.5."""
    m = card["metrics_validation"]
    a = _num(m["auroc_strong_wins"])
    positives = round(m["share_strong_wins"] * m["n"]) if m["share_strong_wins"] is not None else 0
    negatives = m["n"] - positives
    if a < 0 or not positives or not negatives:
        return -1.0
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives)
    return a - 1.96 * math.sqrt(max(variance, 0.0))


def calibration_table(scores: np.ndarray) -> list[dict]:
    """The thresholds that send 10 %, 20 % … 90 % of these scores to the cloud (score >= threshold)."""
    if len(scores) == 0:
        return []
    return [{"cloud_share": share, "threshold": float(np.quantile(scores, 1 - share, method="higher"))}
            for share in SHARES]


def calibrate(router_path: str | Path, label_path: str | Path, *, embedder: Embedder, split: str = "calibration"
              ) -> list[dict]:
    """Compute the threshold table on ``split`` of a label file and write it into the router's card."""
    rows = [r for r in read_rows(label_path) if r["split"] == split]
    if not rows:
        raise InvalidInputError(f"{label_path} has no rows in the {split} split.")
    for warning in size_warnings({"calibration": len(rows)}):
        log.warning("%s: %s", label_path, warning)
    router = RouterModel(router_path, embedder_id=embedder.id, dim=embedder.dim)
    scores = router.score(embedder.embed([r["prompt"] for r in rows]))
    table = calibration_table(scores)
    path = card_path(router_path)
    card = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    card["thresholds"] = table
    card["calibrated_on"] = {"path": str(label_path), "split": split, "prompts": len(rows)}
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return table


def realised_shares(scores: np.ndarray, table: list[dict]) -> list[tuple[float, float]]:
    """(target share, share of ``scores`` at or above its threshold) for each row of a table."""
    return [(row["cloud_share"], float((scores >= row["threshold"]).mean())) for row in table]
