"""Routing quality of routers on an evaluation set: PGR curves, CPT(50 %), CPT(80 %), APGR, cost.

Every router is compared with random routing (mean and spread over seeds) and with the oracle, which
sends a query to the strong model exactly when that helps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..backends.embedder import load_tokenizer
from ..backends.router_model import RouterModel
from ..data import eval_data
from ..data.embedding_cache import EmbeddingCache
from ..data.eval_data import EvalSet
from ..errors import InvalidInputError
from ..metrics import auroc
from .judge import judge
from .policy_scores import default_policy_scores
from .quality import Curve, PairPrices, cost_usd, curve, strong_mask

RANDOM, ORACLE = "random", "oracle"
CURVE_POINTS = 101
# USD per million tokens (input, output). GPT-4 Turbo (gpt-4-1106-preview) list price; Mixtral-8x7B-Instruct
# at a typical hosted price at the time of the RouteLLM study; the on-device model costs nothing per call.
DEFAULT_PRICES = {
    "gpt4-mixtral": PairPrices.of(10.0, 30.0, 0.6, 0.6),
    "local-gpt4": PairPrices.of(10.0, 30.0, 0.0, 0.0),
    # The stand-in has no price; these are the demo's illustrative ones for a small hosted model.
    "on-device": PairPrices.of(0.15, 0.60, 0.0, 0.0),
}


@dataclass(frozen=True)
class Tokens:
    """Token counts per query for the cost estimate."""

    input: np.ndarray
    strong_output: np.ndarray
    weak_output: np.ndarray


def count_tokens(eval_set: EvalSet, tokenizer) -> Tokens:
    """Prompt and answer lengths with ``tokenizer`` (a ``tokenizers.Tokenizer``); a missing answer counts 1."""
    def lengths(texts):
        present = [t or "" for t in texts]
        counts = np.array([len(e.ids) for e in tokenizer.encode_batch(present, add_special_tokens=False)], float)
        return np.where([t is None for t in texts], 1.0, np.maximum(counts, 1.0))

    return Tokens(lengths(eval_set.prompts), lengths(eval_set.strong_texts), lengths(eval_set.weak_texts))


def _summary(c: Curve) -> dict:
    return {"apgr": c.apgr(), "cpt50": c.cpt(0.5), "cpt80": c.cpt(0.8)}


def _sampled_curve(c: Curve) -> dict:
    grid = np.linspace(0, 1, CURVE_POINTS)
    return {"share": grid.round(4).tolist(), "pgr": np.interp(grid, c.shares, c.pgr).round(5).tolist()}


def strong_better_auroc(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> float | None:
    """AUROC of ``scores`` for "the strong model did better", over the queries where the two outcomes differ
    (None when they never differ one way or the other): how well a router ranks this very set."""
    differ = strong != weak
    better = (strong > weak)[differ]
    return auroc(scores[differ], better) if differ.any() and 0 < better.mean() < 1 else None


def score_summary(scores: np.ndarray, eval_set: EvalSet) -> dict:
    """APGR, CPT(50 %), CPT(80 %) and AUROC for "strong better" of one score per query; with accuracy outcomes
    also the AUROC for "the weak answer was wrong"."""
    strong, weak = eval_set.strong, eval_set.weak
    weak_wrong = auroc(scores, weak == 0) if eval_set.outcome == "accuracy" else None
    return {**_summary(curve(scores, strong, weak)), "auroc_strong_better": strong_better_auroc(scores, strong, weak),
            "auroc_weak_wrong": weak_wrong}


def evaluate(eval_set: EvalSet, scores: dict[str, np.ndarray], *, tokens: Tokens | None = None,
             prices: PairPrices | None = None, seeds: int = 10) -> dict:
    """The results of each router (name → score per query), random over ``seeds`` seeds, and the oracle."""
    if seeds < 1:
        raise InvalidInputError(f"random routing needs at least one seed, not {seeds}.")
    strong, weak = eval_set.strong, eval_set.weak
    prices = prices or DEFAULT_PRICES[eval_set.pair]

    def cost_at(router_scores: np.ndarray, share: float) -> float | None:
        if tokens is None or not np.isfinite(share):
            return None
        return cost_usd(strong_mask(router_scores, share), prices, input_tokens=tokens.input,
                        strong_output_tokens=tokens.strong_output, weak_output_tokens=tokens.weak_output)

    routers = {}
    for name, router_scores in {**scores, ORACLE: strong - weak}.items():
        c = curve(router_scores, strong, weak)
        routers[name] = {**_summary(c), "cost_at_cpt80_usd": cost_at(router_scores, c.cpt(0.8)),
                         "auroc_strong_better": strong_better_auroc(router_scores, strong, weak),
                         "curve": _sampled_curve(c)}
    runs = []
    for seed in range(seeds):
        random_scores = np.random.default_rng(seed).random(len(strong))
        c = curve(random_scores, strong, weak)
        runs.append({**_summary(c), "cost_at_cpt80_usd": cost_at(random_scores, c.cpt(0.8)),
                     "pgr": _sampled_curve(c)["pgr"]})
    pgr = np.array([r["pgr"] for r in runs])
    routers[RANDOM] = {
        **{k: float(np.mean([r[k] for r in runs])) for k in ("apgr", "cpt50", "cpt80")},
        "spread": {k: float(np.std([r[k] for r in runs])) for k in ("apgr", "cpt50", "cpt80")},
        "cost_at_cpt80_usd": float(np.mean([r["cost_at_cpt80_usd"] for r in runs])) if tokens is not None else None,
        "seeds": seeds,
        "curve": {"share": np.linspace(0, 1, CURVE_POINTS).round(4).tolist(), "pgr": pgr.mean(0).round(5).tolist(),
                  "pgr_std": pgr.std(0).round(5).tolist()},
    }
    return {
        "benchmark": eval_set.benchmark, "pair": eval_set.pair, "n": len(eval_set),
        "dropped_contaminated": eval_set.dropped_contaminated, "outcome": eval_set.outcome,
        "strong_model": eval_set.strong_model, "weak_model": eval_set.weak_model,
        "strong_mean": float(strong.mean()), "weak_mean": float(weak.mean()),
        "prices_usd_per_million": prices.as_dict() if tokens is not None else None,
        "routers": routers,
    }


def router_scores(paths: list[str | Path], vectors: np.ndarray, *, embedder_id: str, dim: int) -> dict[str, np.ndarray]:
    """Scores of router files, named by file stem, or by ``folder/stem`` for all when two stems repeat."""
    paths = [Path(p) for p in paths]
    stems = [p.stem for p in paths]
    repeated = len(set(stems)) < len(stems)
    names = [f"{p.parent.name}/{p.stem}" if repeated else p.stem for p in paths]
    return {name: RouterModel(p, embedder_id=embedder_id, dim=dim).score(vectors) for name, p in zip(names, paths)}


def run(benchmarks: list[str], *, pair: str, router_paths: list[str | Path], embedder, seeds: int = 10,
        judge_client=None, judge_limit: int | None = None, local_outcomes: str | Path | None = None,
        prices: PairPrices | None = None,
        references: Callable[[EvalSet, np.ndarray], dict[str, np.ndarray]] | None = None,
        default_policy: str | None = None, turn: int | None = None, routing_turns: int = 1) -> list[dict]:
    """Evaluate router files on benchmarks; embeddings come from the on-disk cache. ``references`` (the
    evaluation set and its vectors → named scores) adds ``score_summary`` of scores that are not router files
    under ``result["references"]``. ``default_policy`` names the router whose scores are replaced by the default
    decision's (``policy_scores.default_policy_scores``; ``result["default_policy"]`` says which stages).
    ``turn`` and ``routing_turns``: MT-Bench's turn scored and the user turns routed on (``eval_data.load``)."""
    cache = EmbeddingCache(embedder)
    counter = load_tokenizer(embedder.tokenizer_path, 100_000)
    results = []
    for benchmark in benchmarks:
        eval_set = eval_data.load(benchmark, pair, local_outcomes=local_outcomes, turn=turn,
                                  routing_turns=routing_turns)
        vectors = cache.embed(eval_set.prompts)
        scores = router_scores(router_paths, vectors, embedder_id=embedder.id, dim=embedder.dim)
        policy = None
        if default_policy is not None:
            scores[default_policy], policy = default_policy_scores(eval_set, scores[default_policy])
        result = evaluate(eval_set, scores, tokens=count_tokens(eval_set, counter), prices=prices, seeds=seeds)
        if judge_client is not None and eval_set.strong_texts[0] is not None:
            masks = {name: strong_mask(s, result["routers"][name]["cpt80"]) for name, s in scores.items()}
            masks[ORACLE] = strong_mask(eval_set.strong - eval_set.weak, result["routers"][ORACLE]["cpt80"])
            rand = np.random.default_rng(0).random(len(eval_set))
            masks[RANDOM] = strong_mask(rand, result["routers"][RANDOM]["cpt80"])
            result["judge_at_cpt80"] = judge(eval_set, masks, judge_client, limit=judge_limit)
        if references is not None:
            result["references"] = {name: score_summary(np.asarray(s, float), eval_set)
                                    for name, s in references(eval_set, vectors).items()}
        if policy is not None:
            result["default_policy"] = policy
        result["embedding_cache"] = {"hits": cache.hits, "misses": cache.misses}
        results.append(result)
    return results


def table(result: dict) -> list[dict]:
    """One row per router: name, APGR, CPT(50 %), CPT(80 %), cost at CPT(80 %), judge score."""
    judged = result.get("judge_at_cpt80", {}).get("scores", {})
    rows = []
    for name, r in result["routers"].items():
        rows.append({"router": name, "apgr": r["apgr"], "cpt50": r["cpt50"], "cpt80": r["cpt80"],
                     "spread": r.get("spread"), "cost_at_cpt80_usd": r["cost_at_cpt80_usd"],
                     "judge": judged.get(name)})
    return rows
