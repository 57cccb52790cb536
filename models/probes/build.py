"""Train the answer check's probe on the Qwen pair's label rows and ship the one chosen on validation.

    python models/probes/build.py

Inputs: ``models/routers/qwen-pair.labels.jsonl.gz`` (whether the 0.5B greedy answer was right, the split)
and ``qwen-pair.signals.jsonl.gz`` beside this file (its token statistics, from ``signals.py``). For each number of held
tokens n in ``HOLD``, with and without the query embedding, and each L2 strength, a logistic probe is fit on
the train split; the one with the highest validation AUROC for "local answer wrong" ships as
``answer_check.json`` (a cheaper one, fewer tokens and no embedding, wins ties within ``TIE``), with the
thresholds of its validation scores. The test split only reports. Writes README.md beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edge_router import Embedder
from edge_router.bench import environment
from edge_router.metrics import auroc
from edge_router.training.answer_probe import fit_probe, read_signals, with_thresholds
from edge_router.training.labels import read_rows
from edge_router.uncertainty.answer_check import SIGNALS, answer_signals

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
SIGNALS_FILE = HERE / "qwen-pair.signals.jsonl.gz"
PROBE = HERE / "answer_check.json"
HOLD = (2, 4, 8, 16, 32)
L2 = (0.1, 1.0, 10.0, 100.0)
TIE = 0.005


def dataset(embedder: Embedder) -> dict[str, dict]:
    """Per split: token statistics, query embeddings and "local answer wrong" of the scored label rows."""
    stats = read_signals(SIGNALS_FILE, "labels")
    rows = [r for r in read_rows(LABELS) if r["id"] in stats and r["weak"].get("correct") is not None]
    vectors = embedder.embed([r["prompt"] for r in rows])
    out = {}
    for split in ("train", "calibration", "test"):
        keep = [i for i, r in enumerate(rows) if r["split"] == split]
        out[split] = {"stats": [stats[rows[i]["id"]] for i in keep], "vectors": vectors[keep],
                      "wrong": np.array([rows[i]["weak"]["correct"] is False for i in keep])}
    return out


def features(part: dict, n: int, with_embedding: bool) -> np.ndarray:
    signals = np.array([[answer_signals(s, n)[k] for k in SIGNALS] for s in part["stats"]], np.float64)
    return np.hstack([signals, part["vectors"]]) if with_embedding else signals


def main() -> int:
    embedder = Embedder()
    data = dataset(embedder)
    trials = []
    for n in HOLD:
        for with_embedding in (False, True):
            X = {split: features(part, n, with_embedding) for split, part in data.items()}
            for l2 in L2:
                probe = fit_probe(X["train"], data["train"]["wrong"], n_tokens=n, l2=l2,
                                  embedder_id=embedder.id if with_embedding else None)
                scores = {split: np.array([probe.score(s, v) for s, v in zip(part["stats"], part["vectors"])])
                          for split, part in data.items()}
                trials.append({"n": n, "embedding": with_embedding, "l2": l2, "probe": probe, "scores": scores,
                               "validation": auroc(scores["calibration"], data["calibration"]["wrong"]),
                               "test": auroc(scores["test"], data["test"]["wrong"])})
    # per held-token count and feature set, the L2 strength chosen on validation
    configs: dict[tuple, dict] = {}
    for t in trials:
        key = (t["n"], t["embedding"])
        if key not in configs or t["validation"] > configs[key]["validation"]:
            configs[key] = t
    best = max(t["validation"] for t in configs.values())
    chosen = min((t for t in configs.values() if t["validation"] >= best - TIE),
                 key=lambda t: (t["embedding"], t["n"], -t["validation"]))
    probe = with_thresholds(chosen["probe"], chosen["scores"]["calibration"])
    PROBE.write_text(json.dumps(probe.to_dict(), indent=1) + "\n", encoding="utf-8")
    env = environment.describe()
    sizes = {split: len(part["wrong"]) for split, part in data.items()}
    lines = [
        "# The answer check's probe",
        "",
        f"`answer_check.json`: a logistic probe over the signals of the local answer's first **{chosen['n']}** "
        f"tokens ({', '.join(SIGNALS)})" + (f" and the `{embedder.id}` query embedding" if chosen["embedding"]
                                            else "") + f", L2 {chosen['l2']:g}. It estimates P(the local answer is "
        f"wrong): validation AUROC {chosen['validation']:.3f}, test AUROC {chosen['test']:.3f}.",
        "",
        f"Trained by `models/probes/build.py` on {sizes['train']} label rows of `{LABELS.name}` (the 0.5B model's "
        f"greedy short answers; token statistics from `qwen-pair.signals.jsonl.gz`), chosen on {sizes['calibration']} "
        f"validation rows, reported on {sizes['test']} test rows; {env['cpu']} ({env['cores']} cores). A "
        f"cheaper probe (fewer held tokens, no embedding) is preferred within {TIE} validation AUROC.",
        "",
        "Each row: the L2 strength (of " + ", ".join(f"{x:g}" for x in L2) + ") chosen on validation.",
        "",
        "| held tokens | query embedding | L2 | validation AUROC | test AUROC |",
        "|---|---|---|---|---|",
    ]
    for t in configs.values():
        mark = " (shipped)" if t is chosen else ""
        lines.append(f"| {t['n']}{mark} | {'yes' if t['embedding'] else 'no'} | {t['l2']:g} | "
                     f"{t['validation']:.3f} | {t['test']:.3f} |")
    (HERE / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
