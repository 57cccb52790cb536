"""Train the four router kinds on the default label file and ship the best as default.onnx.

    python models/routers/build.py LABELS.jsonl

Trains knn, sw, mf and mlp (edge_router.training.trainer), compares them on the test
split, stores the label file compressed beside this script, and writes README.md
with the comparison, the label statistics, the labelling time and the machine.

The best router (highest test AUROC for "strong wins", ties broken by AUROC for
"local answer wrong") ships as default.onnx with its card only when it ranks
better than chance: the labels hold at least two classes and its AUROC for
"strong wins" is above 0.5. Otherwise nothing ships, the runtime keeps the
uncertainty gate, and README.md says why. Needs the ``onnx`` extra.
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
from edge_router.bench import environment
from edge_router.metrics import auroc
from edge_router.training.labels import read_rows
from edge_router.training.trainer import card_path, train

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
    shipped_labels = HERE / "default.labels.jsonl.gz"
    with open(label_path, "rb") as src, gzip.open(shipped_labels, "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    with tempfile.TemporaryDirectory() as tmp:
        cards = train(label_path, tmp, embedder=embedder)
        best = max(cards, key=lambda kind: _key(cards[kind]))
        ships = _key(cards[best])[0] > 0.5
        for stale in (HERE / "default.onnx", card_path(HERE / "default.onnx")):
            stale.unlink(missing_ok=True)
        if ships:
            shutil.copy(Path(tmp) / f"{best}.onnx", HERE / "default.onnx")
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
    wrong_flags = [r["weak"]["correct"] for r in rows]
    se = [r["weak"]["se"] for r in rows]
    if ships:
        verdict = (f"`default.onnx` is the **{best}** router, trained by `models/routers/build.py` on "
                   f"`{shipped_labels.name}`. Its card is `default.json`.")
    else:
        verdict = ("**No default router ships.** None of the four routers ranks better than chance on the test "
                   "split (the labels below hold a single class, or the best AUROC for \"strong wins\" is not above "
                   "0.5), so the runtime keeps the uncertainty gate as its default. `build.py` ships a router as "
                   "soon as a label file carries a signal.")
    lines = [
        "# The default router",
        "",
        verdict,
        "",
        f"Label file: `{shipped_labels.name}`, {len(rows)} prompts ("
        + ", ".join(f"{n} {name}" for name, n in by_dataset.items()) + ").",
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
        f"- Semantic entropy as a predictor of a wrong local answer, on all {len(rows)} prompts: AUROC "
        f"{auroc(se, [c is False for c in wrong_flags]):.3f} (cluster counts), "
        f"{auroc([r['weak']['se_likelihood'] for r in rows], [c is False for c in wrong_flags]):.3f} "
        "(likelihood-weighted); 0.5 is chance.",
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
        lines.append(f"| {kind}{' (shipped)' if ships and kind == best else ''} | {c['file_bytes'] / 1e3:.0f} | "
                     f"{_fmt(m['auroc_strong_wins'])} | {_fmt(m['auroc_local_wrong'])} | {m['n']} | {int8_text} |")
    lines += [
        "",
        "AUROC 0.5 is chance; \"n/a\" where the test split holds one class only. The AUROCs for a wrong "
        f"local answer rest on the {sum(r['weak']['correct'] is True for r in rows if r['split'] == 'test')} "
        "test prompts the local model got right, too few to tell the kinds apart.",
        "",
    ]
    (HERE / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print((HERE / "README.md").read_text())
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
