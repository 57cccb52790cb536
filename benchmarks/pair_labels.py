"""What the on-device pair's label rows say: accuracy of both models, the label balance at each τ, and how
well the local model's semantic entropy flags its wrong answers (the uncertainty gate's signal), for k = 2..5
samples, with the share a gate threshold sends out and the accuracy the pair then reaches.

Reads ``models/routers/qwen-pair.labels.jsonl.gz`` (``edge-router label`` with the stand-in as the strong
side, see the README) and writes ``benchmarks/results/pair_labels.{md,json}``. CPU-free: it only reads rows.

    python benchmarks/pair_labels.py [--labels PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from edge_router.bench.pages import write_json
from edge_router.metrics import auroc, auroc_interval, wilson
from edge_router.training.labels import preference, read_rows
from edge_router.uncertainty.semantic_entropy import cluster_entropy, likelihood_entropy

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"
TAUS = (0.05, 0.1, 0.2, 0.3)


def bootstrap_auroc(scores: np.ndarray, positives: np.ndarray) -> tuple[float, float, float]:
    return (auroc(scores, positives), *auroc_interval(scores, positives))


def first_k(row: dict, k: int) -> tuple[float, float]:
    """Count and likelihood SE of the weak side's first ``k`` samples."""
    ids = row["weak"]["cluster_ids"][:k]
    return cluster_entropy(ids), likelihood_entropy(ids, row["weak"]["mean_logprobs"][:k])


def analyse(rows: list[dict]) -> dict:
    gold = [r for r in rows if r["weak"]["correct"] is not None and r["strong"].get("correct") is not None]
    weak_right = np.array([bool(r["weak"]["correct"]) for r in gold])
    strong_right = np.array([bool(r["strong"]["correct"]) for r in gold])
    out: dict = {"rows": len(rows), "with_gold": len(gold), "by_dataset": {}, "taus": {}, "gate": {}}
    for name in sorted({r["dataset"] for r in gold}):
        part = [r for r in gold if r["dataset"] == name]
        w = sum(bool(r["weak"]["correct"]) for r in part)
        s = sum(bool(r["strong"]["correct"]) for r in part)
        out["by_dataset"][name] = {"n": len(part), "weak": w / len(part), "strong": s / len(part),
                                   "weak_ci": wilson(w, len(part)), "strong_ci": wilson(s, len(part))}
    for tau in TAUS:
        for entropy in ("se", "se_likelihood"):
            labels = Counter(preference(r["strong"][entropy], r["weak"][entropy], tau=tau)[0] for r in rows
                             if entropy in r["strong"])
            out["taus"][f"{entropy}@{tau}"] = dict(labels)
    wrong = ~weak_right
    for k in (2, 3, 4, 5):
        counts, likes = zip(*(first_k(r, k) for r in gold))
        counts, likes = np.array(counts), np.array(likes)
        table = []
        for threshold in [-1.0, *sorted(set(counts.tolist()))]:  # -1: everything goes out
            out_mask = counts > threshold
            system = np.where(out_mask, strong_right, weak_right).mean()
            table.append({"threshold": float(threshold), "cloud_share": float(out_mask.mean()),
                          "accuracy": float(system)})
        out["gate"][k] = {"auroc_counts": bootstrap_auroc(counts, wrong),
                          "auroc_likelihood": bootstrap_auroc(likes, wrong), "thresholds": table}
    out["weak_accuracy"] = float(weak_right.mean()) if len(gold) else None
    out["strong_accuracy"] = float(strong_right.mean()) if len(gold) else None
    return out


def render(a: dict, source: str) -> str:
    lines = [
        "# The on-device pair's labels: accuracy, label balance, the gate's signal",
        "",
        f"From `{source}` ({a['rows']} rows so far, {a['with_gold']} with gold answers), made by `edge-router"
        " label` with Qwen2.5-Coder-0.5B on the device and Qwen2.5-Coder-1.5B behind the loopback stand-in:"
        " the same short-answer chat for both, a greedy answer and k = 5 samples at temperature 1 (unrestricted),"
        " at most 32 tokens, exact-match clustering. Made by `python benchmarks/pair_labels.py`.",
        "",
        "## Greedy accuracy (Wilson 95 % interval)",
        "",
        "| source | n | Qwen 0.5B (device) | Qwen 1.5B (stand-in) |",
        "|---|---|---|---|",
    ]
    for name, d in a["by_dataset"].items():
        lines.append(f"| {name} | {d['n']} | {100 * d['weak']:.0f} % ({100 * d['weak_ci'][0]:.0f}–"
                     f"{100 * d['weak_ci'][1]:.0f}) | {100 * d['strong']:.0f} % ({100 * d['strong_ci'][0]:.0f}–"
                     f"{100 * d['strong_ci'][1]:.0f}) |")
    lines += ["", "## Label balance at each τ (δ = relative SE difference)", "",
              "| τ | count SE: strong / tie / weak | likelihood SE: strong / tie / weak |", "|---|---|---|"]
    for tau in TAUS:
        cells = []
        for entropy in ("se", "se_likelihood"):
            c = a["taus"].get(f"{entropy}@{tau}", {})
            cells.append(f"{c.get('strong', 0)} / {c.get('tie', 0)} / {c.get('weak', 0)}")
        lines.append(f"| {tau} | {cells[0]} | {cells[1]} |")
    lines += ["", "## The gate's signal: semantic entropy of the local samples vs a wrong local answer", "",
              "AUROC for \"the local greedy answer is wrong\" (bootstrap 95 % interval, 1,000 resamples), from the"
              " first k of the 5 samples.", "",
              "| k | AUROC, count SE | AUROC, likelihood SE |", "|---|---|---|"]
    for k, g in a["gate"].items():
        c, li = g["auroc_counts"], g["auroc_likelihood"]
        lines.append(f"| {k} | {c[0]:.3f} ({c[1]:.3f}–{c[2]:.3f}) | {li[0]:.3f} ({li[1]:.3f}–{li[2]:.3f}) |")
    lines += ["", f"Thresholds on the count SE of k = 5 samples: the share sent to the stand-in and the pair's"
              f" accuracy (local answers where kept, the stand-in's where sent). All local: "
              f"{100 * (a['weak_accuracy'] or 0):.1f} %; all to the stand-in: "
              f"{100 * (a['strong_accuracy'] or 0):.1f} %.",
              "", "| offload when SE > | share to the cloud | accuracy |", "|---|---|---|"]
    for row in a["gate"][5]["thresholds"]:
        where = "always" if row["threshold"] < 0 else f"{row['threshold']:.2f}"
        lines.append(f"| {where} | {100 * row['cloud_share']:.0f} % | {100 * row['accuracy']:.1f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    rows = [r for r in read_rows(args.labels) if r["strong"].get("sampled")]
    analysis = analyse(rows)
    RESULTS.mkdir(exist_ok=True)
    write_json(analysis, RESULTS / "pair_labels.json")
    text = render(analysis, args.labels.relative_to(ROOT) if args.labels.is_relative_to(ROOT) else args.labels)
    (RESULTS / "pair_labels.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
