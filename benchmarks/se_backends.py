"""Which clustering backend makes semantic entropy flag wrong local answers best, per unit of time?

Reads the on-device model's stored samples (Qwen2.5-Coder-0.5B, k = 5 at temperature 1, at most 32 tokens)
and greedy correctness from the Qwen pair's label rows (``models/routers/qwen-pair.labels.jsonl.gz``: NQ-open,
TriviaQA, MAWPS, MMLU dev/val, ARC-Challenge, Winogrande); none of these prompts was used to train either NLI
model. For each backend it clusters every prompt's samples again, computes
semantic entropy (cluster counts, and likelihood-weighted as in Kuhn et al.), and reports the AUROC for
"the greedy answer is wrong" with a bootstrap 95 % interval, and the clustering time per prompt on one
thread. The chosen default is the fastest backend whose AUROC lies within the best one's interval.
Writes ``benchmarks/results/se_backends.{md,json}``. Run with no other job on the machine. Usage:

    python benchmarks/se_backends.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge_router import Embedder, EmbeddingClusterer, EmbeddingNLIClusterer, EntailmentClusterer, ExactMatchClusterer
from edge_router.bench import environment
from edge_router.metrics import auroc, auroc_interval
from edge_router.training.labels import read_rows
from edge_router.uncertainty.semantic_entropy import entropies_of

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"


def backends(embedder: Embedder) -> dict:
    return {
        "exact (normalised)": ExactMatchClusterer(),
        "embedding cosine ≥ 0.85": EmbeddingClusterer(embedder),
        "embedding-feature NLI, strict": EmbeddingNLIClusterer(strict=True),
        "embedding-feature NLI, non-strict": EmbeddingNLIClusterer(strict=False),
        "cross-encoder NLI, strict": EntailmentClusterer(strict=True),
        "cross-encoder NLI, non-strict": EntailmentClusterer(strict=False),
        "cross-encoder NLI, strict, question-conditioned": EntailmentClusterer(strict=True, condition_on_question=True),
    }


def rows_with_samples(limit: int | None) -> list[dict]:
    """Label rows with samples and a scored greedy answer, in hash order (a ``limit`` takes a random part)."""
    rows = [r for r in read_rows(LABELS) if r["weak"].get("correct") is not None and r["weak"].get("samples")]
    rows.sort(key=lambda r: r["id"])
    return rows[:limit] if limit else rows


def measure(rows: list[dict], clusterer) -> dict:
    wrong = np.array([not r["weak"]["correct"] for r in rows])
    ids, counts, likelihood, times = zip(*(entropies_of(clusterer, r["weak"]["samples"],
                                                        r["weak"]["mean_logprobs"], r["prompt"]) for r in rows))
    counts, likelihood = np.array(counts), np.array(likelihood)
    return {
        "auroc_counts": auroc(counts, wrong), "auroc_counts_ci95": auroc_interval(counts, wrong),
        "auroc_likelihood": auroc(likelihood, wrong), "auroc_likelihood_ci95": auroc_interval(likelihood, wrong),
        "mean_clusters": float(np.mean([len(set(i)) for i in ids])),
        "ms_per_prompt_median": float(np.median(times)), "ms_per_prompt_mean": float(np.mean(times)),
    }


def choose(results: dict) -> str:
    """The fastest backend whose likelihood-SE AUROC is inside the best backend's 95 % interval."""
    best = max(results, key=lambda name: results[name]["auroc_likelihood"])
    low = results[best]["auroc_likelihood_ci95"][0]
    close = [name for name, r in results.items() if r["auroc_likelihood"] >= low]
    return min(close, key=lambda name: results[name]["ms_per_prompt_median"])


def write_report(rows: list[dict], results: dict, chosen: str) -> None:
    env = environment.describe()
    n_right = sum(r["weak"]["correct"] for r in rows)
    exact = results["exact (normalised)"]["auroc_likelihood"]
    lines = [
        "# Semantic-entropy clustering backends: AUROC for a wrong local answer, and their cost",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, Python {env['python']}, onnxruntime "
        f"{env['libraries']['onnxruntime']}, commit `{env['commit']}`. One thread per ONNX session.",
        f"Prompts: {len(rows)} training prompts of the Qwen pair's label rows with stored samples of the "
        f"on-device Qwen2.5-Coder-0.5B (k = 5, temperature 1, at most 32 tokens); its greedy answer is right on "
        f"{n_right} of them.",
        "Time: clustering the 5 samples of one prompt (embedding them included where a backend embeds), with no "
        "other job running.",
        "",
        "| backend | AUROC, likelihood SE [95 % CI] | AUROC, count SE [95 % CI] | mean clusters of 5 "
        "| ms/prompt (median) |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lo, hi = r["auroc_likelihood_ci95"]
        clo, chi = r["auroc_counts_ci95"]
        lines.append(f"| {name} | {r['auroc_likelihood']:.3f} [{lo:.3f}, {hi:.3f}] | {r['auroc_counts']:.3f} "
                     f"[{clo:.3f}, {chi:.3f}] | {r['mean_clusters']:.2f} | {r['ms_per_prompt_median']:.1f} |")
    best = max(results, key=lambda name: results[name]["auroc_likelihood"])
    lines += [
        "",
        f"Best AUROC: {best}. Chosen default (the fastest backend whose AUROC lies inside the best one's "
        f"interval): **{chosen}**. "
        + (f"No backend's AUROC is reliably above the exact-match backend's ({exact:.3f}): the entailment "
           "backends do not beat it on this data." if chosen == "exact (normalised)" else
           f"Its AUROC against the exact-match backend's: {results[chosen]['auroc_likelihood']:.3f} vs {exact:.3f}."),
        "",
        f"Mean clusters of 5 under exact match: {results['exact (normalised)']['mean_clusters']:.2f}; the local "
        f"model is right on {n_right / len(rows):.0%} of these prompts. The intervals are bootstrap 95 % intervals "
        "over prompts; backends whose intervals overlap are not told apart by this data.",
    ]
    (RESULTS / "se_backends.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "se_backends.json").write_text(json.dumps(
        {"machine": env, "prompts": len(rows), "right": n_right, "results": results, "chosen": chosen},
        indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="first N prompts only (a trial run)")
    args = parser.parse_args(argv)
    rows = rows_with_samples(args.limit)
    embedder = Embedder()
    results = {}
    for name, clusterer in backends(embedder).items():
        results[name] = measure(rows, clusterer)
        r = results[name]
        print(f"{name}: AUROC {r['auroc_likelihood']:.3f} (likelihood) {r['auroc_counts']:.3f} (counts), "
              f"{r['ms_per_prompt_median']:.1f} ms/prompt", file=sys.stderr)
    chosen = choose(results)
    write_report(rows, results, chosen)
    print(f"chosen: {chosen}; report in {RESULTS / 'se_backends.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
