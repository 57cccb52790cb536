"""Train the four router kinds on a label file, pick one on the validation split, ship it as default.onnx.

    python models/routers/build.py LABELS.jsonl [--embedder NAME]

Trains knn, sw, mf and mlp (edge_router.training.trainer) with the registry's
default embedder (or ``--embedder``), stores the label file compressed beside this
script (``<name>.labels.jsonl.gz``), and writes README.md: the labels, each kind's
AUROC on the validation split (the calibration split, which also calibrates the
thresholds) and on the test split, and which kind ships.

The kind with the highest validation AUROC for "strong wins" (ties broken by
"local answer wrong") ships as default.onnx with its card, when that AUROC is
above 0.5 beyond its 95 % interval (Hanley-McNeil); the test split is reported,
never used to choose. Otherwise nothing ships and README.md says why. Needs the
``onnx`` extra.
"""

from __future__ import annotations

import argparse
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
from edge_router.training.trainer import card_path, chosen_kind, train, validation_lower_bound

HERE = Path(__file__).parent


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _side(rows: list[dict], side: str) -> str:
    correct = [r[side]["correct"] for r in rows if r[side].get("correct") is not None]
    return f"{sum(correct)} of {len(correct)} right ({sum(correct) / max(len(correct), 1):.1%})"


def main(label_path: Path, embedder_name: str | None) -> int:
    rows = read_rows(label_path)
    embedder = Embedder(name=embedder_name)
    stem = label_path.name.split(".")[0]
    shipped_labels = HERE / f"{stem}.labels.jsonl.gz"
    if label_path.resolve() != shipped_labels.resolve():
        with open(label_path, "rb") as src, gzip.open(shipped_labels, "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
    with tempfile.TemporaryDirectory() as tmp:
        cards = train(label_path, tmp, embedder=embedder)
        best = chosen_kind(cards)
        ships = validation_lower_bound(cards[best]) > 0.5
        for stale in (HERE / "default.onnx", card_path(HERE / "default.onnx")):
            stale.unlink(missing_ok=True)
        if ships:
            shutil.copy(Path(tmp) / f"{best}.onnx", HERE / "default.onnx")
            card = dict(cards[best])
            card["file"] = "default.onnx"
            card["training_data"]["path"] = shipped_labels.name
            card["selected_on"] = "validation (calibration) split, AUROC for strong wins"
            card["compared"] = {kind: {"validation": c["metrics_validation"], "test": c["metrics_test"]}
                                for kind, c in cards.items()}
            card_path(HERE / "default.onnx").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")

    env = environment.describe()
    labels = collections.Counter(r["label"] for r in rows)
    by_dataset = collections.Counter(r["dataset"] for r in rows)
    wrong = [r["weak"]["correct"] is False for r in rows]
    per_prompt_s = [sum(r[side].get(k, 0.0) for side in ("weak", "strong")
                        for k in ("greedy_ms", "sample_ms", "cluster_ms")) / 1e3 for r in rows]
    first = rows[0]
    if ships:
        m = cards[best]["metrics_test"]
        verdict = (f"`default.onnx` is the **{best}** router (chosen on the validation split), trained on "
                   f"`{embedder.id}` embeddings of `{shipped_labels.name}` by `models/routers/build.py`. On the "
                   f"held-out test split it ranks \"strong wins\" with AUROC {_fmt(m['auroc_strong_wins'])} and "
                   f"\"local answer wrong\" with {_fmt(m['auroc_local_wrong'])}. Its card is `default.json` "
                   "(thresholds for 10 %–90 % cloud shares, calibrated on the validation split).")
    else:
        validation = cards[best]["metrics_validation"]["auroc_strong_wins"]
        verdict = (f"**No default router ships.** The best kind on the validation split, {best}, ranks \"strong "
                   f"wins\" with AUROC {_fmt(validation)}, whose 95 % interval still reaches 0.5 (lower bound "
                   f"{validation_lower_bound(cards[best]):.3f}), so the runtime keeps the uncertainty gate. "
                   "`build.py` ships a router as soon as one is above chance beyond that interval.")
    lines = [
        "# The default router",
        "",
        verdict,
        "",
        f"Label file: `{shipped_labels.name}`, {len(rows)} prompts ("
        + ", ".join(f"{n} {name}" for name, n in sorted(by_dataset.items())) + ").",
        "",
        "## Labels",
        "",
        f"- Weak (on-device) model: {first['weak']['model']}; strong model: {first['strong']['model']} "
        f"({'sampled' if first['strong'].get('sampled') else 'not sampled: a fixed reference SE'}); k = "
        f"{first['k']} samples each at temperature 1, {first['clusterer']} clustering, δ = |SE_s − SE_w| / "
        f"max(SE_s, SE_w), τ = {first['tau']}.",
        "- Labels: " + ", ".join(f"{name} {n} ({n / len(rows):.0%})" for name, n in labels.most_common()) + ".",
        f"- Greedy answers: weak {_side(rows, 'weak')}; strong {_side(rows, 'strong')}.",
        f"- The weak model's semantic entropy as a predictor of its wrong answer, all {len(rows)} prompts: AUROC "
        f"{auroc([r['weak']['se'] for r in rows], wrong):.3f}; median SE "
        f"{statistics.median(r['weak']['se'] for r in rows):.2f} nats.",
        f"- Labelling time: {sum(per_prompt_s) / 60:.0f} minutes of model time, median "
        f"{statistics.median(per_prompt_s):.1f} s per prompt, on {env['cpu']} ({env['cores']} cores), "
        f"llama-cpp-python {env['libraries']['llama-cpp-python']}.",
        "",
        "## Routers compared (chosen on the validation split; the test split only reports)",
        "",
        "| kind | file kB | validation AUROC strong wins | validation AUROC local wrong | test AUROC strong wins | "
        "test AUROC local wrong | validation / test prompts |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, c in cards.items():
        v, t = c["metrics_validation"], c["metrics_test"]
        lines.append(f"| {kind}{' (shipped)' if ships and kind == best else ''} | {c['file_bytes'] / 1e3:.0f} | "
                     f"{_fmt(v['auroc_strong_wins'])} | {_fmt(v['auroc_local_wrong'])} | "
                     f"{_fmt(t['auroc_strong_wins'])} | {_fmt(t['auroc_local_wrong'])} | {v['n']} / {t['n']} |")
    lines += ["", "AUROC 0.5 is chance. With splits of this size one AUROC's 95 % interval is about ± 0.1.", ""]
    (HERE / "README.md").write_text("\n".join(lines), encoding="utf-8")
    print((HERE / "README.md").read_text())
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--embedder", help="a registered embedder (default: the registry's)")
    args = parser.parse_args()
    sys.exit(main(args.labels, args.embedder))
