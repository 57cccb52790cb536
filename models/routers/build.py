"""Train the four router kinds on the default label file and ship the best as default.onnx.

    python models/routers/build.py LABELS.jsonl

Trains knn, sw, mf and mlp (edge_router.training), compares them on the test
split, copies the one with the highest AUROC for "strong wins" (ties broken by
AUROC for "local answer wrong") to default.onnx with its card, stores the label
file compressed beside it, and writes README.md with the comparison, the label
statistics, the labelling time and the machine. Needs the ``onnx`` extra.
"""

from __future__ import annotations

import collections
import gzip
import json
import math
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from edge_router import Embedder
from edge_router.benchmark import environment
from edge_router.labels import read_rows
from edge_router.training import card_path, train

HERE = Path(__file__).parent


def _key(card: dict) -> tuple[float, float]:
    m = card["metrics_test"]
    strong = m["auroc_strong_wins"]
    wrong = m["auroc_local_wrong"]
    return (-1.0 if strong is None or math.isnan(strong) else strong,
            -1.0 if wrong is None or math.isnan(wrong) else wrong)


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def main(label_path: Path) -> int:
    rows = read_rows(label_path)
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        cards = train(label_path, tmp, embedder=embedder)
        best = max(cards, key=lambda kind: _key(cards[kind]))
        shutil.copy(Path(tmp) / f"{best}.onnx", HERE / "default.onnx")
    shipped_labels = HERE / "default.labels.jsonl.gz"
    with open(label_path, "rb") as src, gzip.open(shipped_labels, "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    card = dict(cards[best])
    card["file"] = "default.onnx"
    card["training_data"]["path"] = shipped_labels.name
    card["selected_from"] = {kind: c["metrics_test"] for kind, c in cards.items()}
    card_path(HERE / "default.onnx").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")

    env = environment.describe()
    labels = collections.Counter(r["label"] for r in rows)
    per_prompt_s = [(r["weak"]["greedy_ms"] + r["weak"]["sample_ms"] + r["weak"]["cluster_ms"]) / 1e3 for r in rows]
    by_dataset = collections.Counter(r["dataset"] for r in rows)
    correct = [r["weak"]["correct"] for r in rows if r["weak"]["correct"] is not None]
    se = [r["weak"]["se"] for r in rows]
    lines = [
        "# The default router",
        "",
        f"`default.onnx` is the **{best}** router, trained by `models/routers/build.py` on "
        f"`{shipped_labels.name}` ({len(rows)} prompts: "
        + ", ".join(f"{n} {name}" for name, n in by_dataset.items()) + "). Its card is `default.json`.",
        "",
        "## Labels",
        "",
        f"- Weak (local) model: {rows[0]['weak']['model']}, k = {rows[0]['k']} samples at temperature 1, "
        f"{rows[0]['clusterer']} clustering, τ = {rows[0]['tau']}.",
        f"- No strong model was sampled (these machines reach no cloud LLM): each prompt is labelled against a "
        f"fixed strong SE of {rows[0]['strong']['se']} (a confident cloud), so the label says whether the local "
        "model's samples agree with each other (tie) or not (strong wins).",
        "- Labels: " + ", ".join(f"{name} {n} ({n / len(rows):.0%})" for name, n in labels.most_common()) + ".",
        f"- Local semantic entropy: median {statistics.median(se):.2f} nats; the local greedy answer is correct "
        f"on {sum(correct)} of {len(correct)} prompts ({sum(correct) / max(len(correct), 1):.1%}).",
        f"- Labelling time: {sum(per_prompt_s) / 60:.1f} minutes of model time, median "
        f"{statistics.median(per_prompt_s):.2f} s per prompt, on {env['cpu']} ({env['cores']} cores, "
        f"{', '.join(env['instruction_sets'])}), llama-cpp-python {env['libraries']['llama-cpp-python']}.",
        "",
        "## Routers compared on the test split",
        "",
        "| kind | file kB | AUROC strong wins | AUROC local answer wrong | test prompts | int8 (Spearman vs float32) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, c in cards.items():
        m = c["metrics_test"]
        int8 = c["int8"]
        int8_text = "n/a" if int8 is None else (
            f"{'kept' if int8['kept'] else 'not kept'} ({int8['spearman_vs_float32']:.4f}; "
            f"{int8['float32_bytes'] / 1e3:.0f} → {(int8['int8_bytes'] or int8['float32_bytes']) / 1e3:.0f} kB)")
        lines.append(f"| {kind}{' (shipped)' if kind == best else ''} | {c['file_bytes'] / 1e3:.0f} | "
                     f"{_fmt(m['auroc_strong_wins'])} | {_fmt(m['auroc_local_wrong'])} | {m['n']} | {int8_text} |")
    lines += [
        "",
        "AUROC 0.5 is chance. Thresholds for 10 %–90 % cloud shares, from the calibration split, are in the card.",
        "",
    ]
    (HERE / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print((HERE / "README.md").read_text())
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
