"""Learning on the device: a new router version from the store's labels, checked before it is adopted.

``learn`` splits the labelled rows by a hash of their id (a fifth held out), builds a ``FeedbackMemory`` from the
rest for each reach (``RADII``: how similar a query must be to a reported one to be moved by it), and measures
"local answer bad" AUROC on the held-out rows before (the current router) and after. Each reach is checked on the
shipped router's own label test split (strong wins, local wrong): one that makes either worse by more than
``tolerance`` is out. Of the rest, the best on the held-out rows wins (the widest reach on a tie); if none is left,
the version is written but not adopted. The adopted memory holds every labelled row, and its thresholds are the new
scores' quantiles on the app's stored traffic. Versions live beside the store (``routers/``) with
their cards; ``history`` lists them and ``rollback`` goes back one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError, InvalidInputError, RouterModelError
from ..metrics import auroc
from .memory import FeedbackMemory, LearnedRouter, base_key
from .store import DecisionStore

TOLERANCE = 0.02
RADII = (0.35, 0.45, 0.55, 0.65)

log = logging.getLogger(__name__)
MIN_LABELS = 20
MIN_TRAFFIC = 30  # stored decisions needed to recalibrate thresholds on the app's traffic
CALIBRATION_ROWS = 1_000  # the newest stored decisions the thresholds are recalibrated on
HELD_OUT_ROWS = 500


def versions_dir(store: DecisionStore) -> Path:
    return store.path.parent / "routers"


def _held_out(ident: str) -> bool:
    return int(hashlib.sha256(ident.encode()).hexdigest()[:8], 16) % 5 == 0


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    return auroc(scores, positive) if 0 < positive.sum() < len(positive) else None


def _label_test_split(base: Any, embedder: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The base router's label test split: embeddings, strong wins, local wrong."""
    from ..data.embedding_cache import EmbeddingCache
    from ..training.labels import read_rows

    training = (base.card or {}).get("training_data") or {}
    path = Path(training.get("path", ""))
    path = path if path.is_file() else Path(base.path).parent / path.name
    if not training or not path.is_file():
        raise ConfigurationError(f"learn() checks that an update does not make the router worse on its own label "
                                 f"test split, and {base.path}'s card names no label file that exists ({path}).")
    rows = [r for r in read_rows(path) if r["split"] == "test" and r["weak"].get("correct") is not None]
    vectors = EmbeddingCache(embedder).embed([r["prompt"] for r in rows])  # on disk after the first time
    return (vectors, np.array([r["label"] == "strong" for r in rows]),
            np.array([r["weak"]["correct"] is False for r in rows]))


def learn(store: DecisionStore, base: Any, embedder: Any, *, tolerance: float = TOLERANCE) -> dict:
    """A new version from the labelled rows; adopted when it passes the check. Returns its card."""
    started = time.perf_counter()
    current = active(store, base)
    rows = list(store.labelled(embedder.id))
    if len(rows) < MIN_LABELS:
        raise InvalidInputError(f"{len(rows)} labelled decisions in {store.path}; learning needs at least "
                                f"{MIN_LABELS} (router.feedback(answer, local_ok=...), POST /v1/feedback, or "
                                "`edge-router feedback ID --local-ok/--local-bad`).")
    ids = [r[0] for r in rows]
    X = np.stack([r[1] for r in rows])
    bad = np.array([0.0 if r[2] else 1.0 for r in rows], np.float32)
    held = np.array([_held_out(i) for i in ids])
    held[np.cumsum(held) > HELD_OUT_ROWS] = False  # enough to measure on; the rest learn
    test_X, strong_wins, local_wrong = _label_test_split(base, embedder)
    base_test = base.score(test_X)
    before = _auroc(current.score(X[held]), bad[held] == 1) if held.any() else None
    memory, trial = FeedbackMemory(X, bad), FeedbackMemory(X[~held], bad[~held])
    found_test, found_held = memory.neighbours(test_X), trial.neighbours(X[held])  # searched once, for every reach
    base_held = base.score(X[held]) if held.any() else np.zeros(0)
    trials = []
    for radius in RADII:
        new_test = memory.with_radius(radius).adjust(base_test, test_X, found_test)
        split = {"strong_wins": (_auroc(base_test, strong_wins), _auroc(new_test, strong_wins)),
                 "local_wrong": (_auroc(base_test, local_wrong), _auroc(new_test, local_wrong))}
        worse = {k: b - a for k, (b, a) in split.items() if a is not None and b is not None and b - a > tolerance}
        after = (_auroc(trial.with_radius(radius).adjust(base_held, X[held], found_held), bad[held] == 1)
                 if held.any() else None)
        trials.append({"radius": radius, "held_out_after": after, "worse": worse,
                       "label_test_split": {k: {"before": b, "after": a} for k, (b, a) in split.items()}})
    passing = [t for t in trials if not t["worse"]]
    chosen = max(passing, key=lambda t: (t["held_out_after"] or 0.0, -t["radius"])) if passing else trials[-1]
    memory = memory.with_radius(chosen["radius"])
    traffic = store.embeddings(embedder.id, limit=CALIBRATION_ROWS)
    thresholds = []
    if len(traffic) >= MIN_TRAFFIC:  # each stored query scored without its own label, as a new one would be
        from ..training.trainer import calibration_table

        own_left_out = memory.neighbours(traffic, exclude_self=True)
        thresholds = calibration_table(memory.adjust(base.score(traffic), traffic, own_left_out))
    folder = versions_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    version = f"learned-v{len(list(folder.glob('learned-v*.json'))) + 1}"
    card = {"version": version, "created": time.time(), "base_router": base_key(base), "labels": len(rows),
            "held_out": int(held.sum()), "radius": chosen["radius"],
            "held_out_auroc_local_bad": {"before": before, "after": chosen["held_out_after"]},
            "label_test_split": chosen["label_test_split"], "tolerance": tolerance, "trials": trials,
            "thresholds": thresholds, "traffic_rows": len(traffic), "adopted": bool(passing),
            "why_not": None if passing else {k: f"{v:.3f} worse" for k, v in chosen["worse"].items()}}
    memory.save(folder / f"{version}.npz")
    card["seconds"] = time.perf_counter() - started
    (folder / f"{version}.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    if passing:
        _set_adopted(store, [*_adopted(store), version])
    return card


def _adopted_file(store: DecisionStore) -> Path:
    return versions_dir(store) / "current.json"


def _adopted(store: DecisionStore) -> list[str]:
    """The versions adopted, oldest first: the last is the one in use (none: the shipped router)."""
    path = _adopted_file(store)
    return json.loads(path.read_text(encoding="utf-8"))["adopted"] if path.is_file() else []


def _set_adopted(store: DecisionStore, adopted: list[str]) -> None:
    _adopted_file(store).write_text(json.dumps({"adopted": adopted}) + "\n", encoding="utf-8")


def active(store: DecisionStore | None, base: Any) -> Any:
    """The router in use: the adopted learned version on top of ``base``, or ``base`` itself."""
    adopted = _adopted(store) if store is not None and base is not None else []
    if not adopted:
        return base
    try:
        return LearnedRouter.load(base, versions_dir(store) / f"{adopted[-1]}.json")
    except RouterModelError as exc:  # the router file changed since: its learned memory does not apply
        log.warning("the learned router version %s is not used: %s", adopted[-1], exc)
        return base


def history(store: DecisionStore) -> list[dict]:
    """Every version's card, oldest first, each marked ``current``."""
    adopted = _adopted(store)
    current = adopted[-1] if adopted else None
    cards = [json.loads(p.read_text(encoding="utf-8")) for p in versions_dir(store).glob("learned-v*.json")]
    return [dict(c, current=c["version"] == current) for c in sorted(cards, key=lambda c: c["created"])]


def rollback(store: DecisionStore) -> str | None:
    """Go back to the version adopted before the current one (None: the shipped router). Returns it."""
    adopted = _adopted(store)
    if not adopted:
        raise InvalidInputError("nothing to roll back: the router in use is the shipped one.")
    _set_adopted(store, adopted[:-1])
    return adopted[-2] if len(adopted) > 1 else None
