"""Routing quality on three model pairs next to the semantic-entropy routing paper (arXiv 2502.11021):
regenerates ``benchmarks/results/quality.md``, ``quality.json`` and one PNG of PGR against the share of
strong calls per pair and benchmark.

1. Four label sets, none holding an evaluation prompt (checked):
   - ``se``: the paper's labels from the on-device pair (``models/routers/qwen-pair.labels.jsonl.gz``):
     k = 5 samples of Qwen2.5-Coder-0.5B and of Qwen2.5-Coder-1.5B, relative SE difference, τ = 0.1;
   - ``accuracy``: on the same prompts, "the 0.5B greedy answer was wrong" (TO-Router-style baseline);
   - ``outcome``: on the same prompts, the pair's greedy answers as RouteLLM labels them (strong when only
     the 1.5B was right, weak when only the 0.5B was): what the SE labels are compared with;
   - ``rb-outcome``: GPT-4 vs Mixtral recorded outcomes on RouterBench's train rows (ARC-Challenge,
     Winogrande, MBPP), for the pair neither of whose models can be sampled here (out of domain, as
     RouteLLM's Arena data is).
2. Routers: kNN, SW, MF and MLP per label set (kNN and MLP for ``accuracy``); the one each set would ship is
   chosen on its validation split (``trainer.chosen_kind``), never on an evaluation set.
3. ``edge_router.evaluation.runner.run`` on GSM8K and MMLU for the on-device pair (both Qwen models'
   outcomes measured here) and for the 0.5B vs GPT-4, and on GSM8K, MMLU and MT-Bench for GPT-4 vs Mixtral
   (RouteLLM's records); random over 20 seeds and the oracle in every table.
4. References that say why a target is missed: a kNN cross-fitted on each evaluation set's own outcomes
   (what the query embedding carries with in-domain labels) and, on the on-device pair, a perfect
   "local answer wrong" detector and question length.

Embeddings are cached on disk, so a rerun takes a minute or two. Usage:

    python benchmarks/quality.py [--judge-base-url URL --judge-model NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from quality_report import (
    IN_DOMAIN,
    IN_DOMAIN_FOLDS,
    IN_DOMAIN_K,
    LONGEST,
    PAPER,
    PERFECT,
    SEEDS,
    plot,
    reading,
    targets,
    write_markdown,
)

from edge_router import Embedder
from edge_router.backends.cloud_llm import CloudLLM
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.data import eval_data
from edge_router.data.datasets import routerbench_outcomes
from edge_router.data.eval_data import EvalSet
from edge_router.evaluation.runner import run
from edge_router.settings import cache_dir
from edge_router.training.labels import outcome_rows, prompt_id, read_rows
from edge_router.training.routers import KnnRouter
from edge_router.training.trainer import chosen_kind, train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAIR_LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
RB_MODELS = {"strong": "gpt-4-1106-preview", "weak": "mistralai/mixtral-8x7b-chat"}
EVALUATIONS = (
    ("on-device", ("gsm8k", "mmlu"), ("se", "accuracy", "outcome")),
    ("local-gpt4", ("gsm8k", "mmlu"), ("se", "accuracy")),
    ("gpt4-mixtral", ("gsm8k", "mmlu", "mt-bench"), ("se", "accuracy", "rb-outcome")),
)


def label_sets() -> dict[str, tuple[list[dict], str]]:
    """Rows and training target of each label set."""
    pair = read_rows(PAIR_LABELS)
    recorded = outcome_rows(routerbench_outcomes(RB_MODELS["strong"], RB_MODELS["weak"]),
                            strong_model=RB_MODELS["strong"], weak_model=RB_MODELS["weak"])
    return {"se": (pair, "se"), "accuracy": (pair, "local-wrong"), "outcome": (pair_outcomes(pair), "se"),
            "rb-outcome": (recorded, "se")}


def pair_outcomes(pair: list[dict]) -> list[dict]:
    """The SE label prompts relabelled by the pair's greedy answers (rows without a scored answer left out)."""
    scored = [r for r in pair if r["weak"].get("correct") is not None and r["strong"].get("correct") is not None]
    records = [{"question": r["prompt"], "dataset": r["dataset"], "sample_id": r["index"],
                "strong": float(r["strong"]["correct"]), "weak": float(r["weak"]["correct"])} for r in scored]
    return outcome_rows(records, strong_model=pair[0]["strong"]["model"], weak_model=pair[0]["weak"]["model"])


def evaluation_ids() -> set[str]:
    """The ids of every evaluation prompt (read once; each label set is checked against them)."""
    return {prompt_id(p) for b in eval_data.BENCHMARKS for p in eval_data.load(b).prompts}


def check_disjoint(rows: list[dict], evaluation: set[str]) -> int:
    """Training prompts that are also evaluation prompts (must be 0)."""
    return len({prompt_id(r["prompt"]) for r in rows} & evaluation)


def train_sets(sets: dict, work: Path, embedder: Embedder) -> tuple[dict[str, list[Path]], dict[str, dict]]:
    """Router files per label set and every card (by ``set/kind``), with the kind each set would ship."""
    paths, cards = {}, {}
    for name, (rows, target) in sets.items():
        label_file = work / f"{name}.jsonl"
        label_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        kinds = ["knn", "mlp"] if name == "accuracy" else None
        set_cards = train(label_file, work / name, embedder=embedder, kinds=kinds, target=target)
        chosen = chosen_kind(set_cards)
        paths[name] = [work / name / f"{k}.onnx" for k in set_cards]
        for kind, card in set_cards.items():
            cards[f"{name}/{kind}"] = dict(card, chosen=kind == chosen)
    return paths, cards


def reference_scores(eval_set: EvalSet, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Scores that say why a target is missed: a kNN cross-fitted on the set's own outcomes
    (``in_domain_scores``) and, on the on-device pair, two query-blind ones: a perfect detector of the local
    answer being wrong (the most the gate or the answer check could do) and question length (a difficulty
    proxy any router could learn)."""
    scores = {IN_DOMAIN: in_domain_scores(vectors, eval_set.strong, eval_set.weak)}
    if eval_set.pair == "on-device":
        scores |= {PERFECT: 1.0 - eval_set.weak, LONGEST: np.array([len(p) for p in eval_set.prompts], float)}
    return scores


def in_domain_scores(vectors: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Each question scored by a kNN fitted on the other folds' outcomes (strong better 1, even 0.5, worse 0).

    What a query-embedding router with in-domain labels of this very pair reaches at this size: a reference
    for the shipped routers, not one that could ship (its labels are the evaluation's own outcomes).
    """
    folds = np.random.default_rng(0).permutation(len(strong)) % IN_DOMAIN_FOLDS
    values = (np.sign(strong - weak) + 1.0) / 2.0
    scores = np.zeros(len(strong), np.float32)
    for fold in range(IN_DOMAIN_FOLDS):
        held = folds == fold
        router = KnnRouter(IN_DOMAIN_K).fit(vectors[~held], values[~held])
        scores[held] = router.score(vectors[held])
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge-base-url")
    parser.add_argument("--judge-model")
    parser.add_argument("--judge-limit", type=int)
    args = parser.parse_args(argv)
    embedder = Embedder()
    sets = label_sets()
    info = {}
    evaluation = evaluation_ids()
    for name, (rows, target) in sets.items():
        overlap = check_disjoint(rows, evaluation)
        if overlap:
            print(f"{overlap} prompts of the {name} labels are evaluation prompts; refusing to evaluate.",
                  file=sys.stderr)
            return 1
        labels = {k: sum(r["label"] == k for r in rows) for k in ("strong", "tie", "weak")}
        if target == "local-wrong":
            labels = {"local wrong": sum(r["weak"]["correct"] is False for r in rows),
                      "local right": sum(r["weak"]["correct"] is True for r in rows)}
        info[name] = {"rows": len(rows), "labels": labels, "overlap": overlap}
    judge = CloudLLM(base_url=args.judge_base_url, model=args.judge_model) if args.judge_base_url else None
    results = []
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        paths, cards = train_sets(sets, Path(tmp), embedder)
        for pair, benchmarks, used in EVALUATIONS:
            router_paths = [p for name in used for p in paths[name]]
            for result in run(list(benchmarks), pair=pair, router_paths=router_paths, embedder=embedder,
                              seeds=SEEDS, judge_client=judge if pair == "gpt4-mixtral" else None,
                              judge_limit=args.judge_limit, references=reference_scores):
                results.append(result)
    for result in results:
        name = f"quality_{result['pair']}_{result['benchmark']}.png"
        plot(result, RESULTS / name)
        result["plot"] = name
    report = {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment.describe(), "embedder": embedder.id, "label_sets": info,
        "cards": {name: {k: c[k] for k in ("kind", "target", "chosen", "metrics_validation", "metrics_test")}
                  for name, c in cards.items()},
        "judge_model": args.judge_model if judge else None, "paper_reported": PAPER, "results": results,
    }
    report["reading"] = reading(results, report["cards"], sets)
    write_json(report, RESULTS / "quality.json")
    write_markdown(report, RESULTS / "quality.md")
    print("\n".join(targets(results, report["cards"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
