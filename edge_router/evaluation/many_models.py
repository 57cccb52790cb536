"""Routing among many models, measured on RouterBench's records: points on the accuracy–cost plane and AIQ.

The predictor (``routing.model_choice.QualityPredictor``) learns each model's score from the train rows'
embeddings and is evaluated on the test rows: for each knob value, the accuracy of the chosen models' recorded
answers and the dollars they cost. One small model is taken as the device (answers at no cost). Beside it: each
single model's point, the oracle's (per question the cheapest model that scored best), and two-model routers (the
same predictor restricted to each pair; the best pair by AIQ on the test rows, a bar set high on purpose).

AIQ (RouterBench, Hu et al. 2024): the area under a router's non-decreasing convex hull of its points, over a
cost range shared by all routers (here from 0, the device, to the dearest single model), divided by that range.
Below its cheapest point a router reaches nothing (quality 0), so a single model's AIQ is its accuracy times the
share of the range at or above its cost.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

from ..data.routerbench import ModelRecords, records
from ..routing.model_choice import QualityPredictor, by_value, within_tolerance

DEVICE = "mistralai/mistral-7b-chat"
LAMBDAS = (0.0, *np.geomspace(0.005, 200.0, 48).tolist())
TOLERANCES = tuple(np.linspace(0.0, 0.5, 26).tolist())


def point(chosen: np.ndarray, rec: ModelRecords) -> dict:
    rows = np.arange(len(rec))
    return {"accuracy": float(rec.quality[rows, chosen].mean()), "cost_usd": float(rec.cost[rows, chosen].sum())}


def oracle(rec: ModelRecords) -> dict:
    best = rec.quality.max(axis=1, keepdims=True)
    chosen = np.argmin(np.where(rec.quality >= best, rec.cost, np.inf), axis=1)
    return point(chosen, rec)


def hull(points: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing upper convex hull of (cost, accuracy) points."""
    pts = sorted({(p["cost_usd"], p["accuracy"]) for p in points})
    frontier: list[tuple[float, float]] = []
    for c, q in pts:
        if frontier and q <= frontier[-1][1]:
            continue  # costs more, reaches no more
        while len(frontier) >= 2:
            (c1, q1), (c2, q2) = frontier[-2], frontier[-1]
            if (q2 - q1) * (c - c1) <= (q - q1) * (c2 - c1):  # the middle point lies on or under the chord
                frontier.pop()
            else:
                break
        frontier.append((c, q))
    return np.array([c for c, _ in frontier]), np.array([q for _, q in frontier])


def aiq(points: list[dict], low: float, high: float, grid: int = 4001) -> float:
    costs, accuracy = hull(points)
    c = np.linspace(low, high, grid)
    reached = np.where(c >= costs[0], np.interp(c, costs, accuracy), 0.0)
    return float(np.trapezoid(reached, c) / (high - low))


def sweep(predicted: np.ndarray, rec: ModelRecords, costs: np.ndarray) -> dict[str, list[dict]]:
    """The router's points along each policy's knob."""
    return {"value": [dict(point(by_value(predicted, costs, lam), rec), knob=lam) for lam in LAMBDAS],
            "tolerance": [dict(point(within_tolerance(predicted, costs, t), rec), knob=t) for t in TOLERANCES]}


def _at_device(rec: ModelRecords, device: str) -> ModelRecords:
    """``rec`` with the device model's answers free."""
    free = np.array([m == device for m in rec.models])
    return ModelRecords(rec.models, rec.questions, rec.datasets, rec.quality, np.where(free, 0.0, rec.cost),
                        rec.dropped)


def select(train: ModelRecords, x_train: np.ndarray) -> tuple[dict, dict[str, float]]:
    """The predictor's settings with the best AIQ on a held-out fifth of the train rows (by question hash)."""
    held = np.array([int(hashlib.sha256(q.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0 for q in train.questions])
    fit, val = train.rows(~held), train.rows(held)
    costs = fit.cost.mean(axis=0)
    high = float(val.cost.sum(axis=0).max())
    scores = {}
    for k, temperature, prior_weight in itertools.product(SELECT["k"], SELECT["temperature"], SELECT["prior_weight"]):
        model = QualityPredictor(k, temperature, prior_weight).fit(x_train[~held], fit.quality, fit.models)
        scores[f"k={k}, temperature={temperature:g}, prior_weight={prior_weight:g}"] = (
            aiq(sweep(model.predict(x_train[held]), val, costs)["value"], 0.0, high),
            {"k": k, "temperature": temperature, "prior_weight": prior_weight})
    best = max(scores, key=lambda name: scores[name][0])
    return scores[best][1], {name: value for name, (value, _) in scores.items()}


SELECT = {"k": (10, 30), "temperature": (0.1, 1.0), "prior_weight": (0.0, 1.0)}


def evaluate(embed, *, device: str = DEVICE) -> dict:
    """``embed(texts) -> unit vectors``. Every figure for the page and ``edge-router eval --benchmark
    routerbench``: the predictor's settings chosen on the train rows, everything else measured on the test rows."""
    train, test = _at_device(records("train"), device), _at_device(records("test"), device)
    x_train, x_test = embed(list(train.questions)), embed(list(test.questions))
    settings, validation = select(train, x_train)
    train_cost = train.cost.mean(axis=0)
    predicted = QualityPredictor(**settings).fit(x_train, train.quality, train.models).predict(x_test)
    singles = {m: point(np.full(len(test), i), test) for i, m in enumerate(test.models)}
    high = max(p["cost_usd"] for p in singles.values())
    router = sweep(predicted, test, train_cost)
    pairs = {}
    for a, b in itertools.combinations(range(len(test.models)), 2):
        points = sweep(predicted[:, [a, b]], test.only([test.models[a], test.models[b]]), train_cost[[a, b]])["value"]
        pairs[f"{test.models[a]} + {test.models[b]}"] = aiq(points, 0.0, high)
    best_pair = max(pairs, key=pairs.get)
    return {
        "models": list(test.models), "device": device, "rows": {"train": len(train), "test": len(test)},
        "dropped_incomplete": {"train": train.dropped, "test": test.dropped}, "settings": settings,
        "validation_aiq": validation,
        "single_models": singles, "oracle": oracle(test), "router": router,
        "aiq": {"router (value)": aiq(router["value"], 0.0, high),
                "router (tolerance)": aiq(router["tolerance"], 0.0, high),
                "best two-model router": pairs[best_pair],
                **{f"single: {m}": aiq([p], 0.0, high) for m, p in singles.items()},
                "oracle": aiq([oracle(test)], 0.0, high)},
        "best_pair": best_pair, "aiq_range_usd": [0.0, high],
    }


def cheapest_at(points: list[dict], accuracy: float) -> float | None:
    """The lowest cost of a point reaching ``accuracy`` (None if none does)."""
    costs = [p["cost_usd"] for p in points if p["accuracy"] >= accuracy]
    return min(costs) if costs else None
