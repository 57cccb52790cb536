"""Build the privacy stage's name tagger: ``name_tagger.onnx`` (int8) and ``name_tagger.card.json``.

Synthetic sentences (``synthetic.py``: the project's templates, Faker's values in fifteen locales) are encoded by
the shipped MiniLM (one pass per sentence, as at run time); each token is labelled by the span its first
character falls in. A token head (``edge_router.training.token_head``) is trained on the training sentences and
measured on held-out ones (other seed) through the exported int8 file, the path the runtime takes. Presidio's
evaluation sentences are not read here (``benchmarks/privacy.py`` measures the tagger on them).

    python models/privacy/build.py [--train 20000] [--validation 1000] [--hidden 192] [--epochs 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from edge_router.backends.embedder import Embedder
from edge_router.bench import environment
from edge_router.privacy.name_tagger import LABELS, NameTagger, token_inputs
from edge_router.training.token_head import TokenHead

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import Generator  # noqa: E402

MODEL, CARD = HERE / "name_tagger.onnx", HERE / "name_tagger.card.json"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


def token_rows(embedder: Embedder, sentences) -> tuple[np.ndarray, np.ndarray]:
    """The head's input rows and label indices of every token of ``sentences`` (as the runtime reads them)."""
    rows, labels = [], []
    for s in sentences:
        for states in embedder.token_states(s.text):
            rows.append(token_inputs(s.text, states))
            tags = np.zeros(len(states.encoding.ids), np.int64)
            for i, (start, end) in enumerate(states.encoding.offsets):
                if end > start:
                    tags[i] = next((LABELS.index(lab) for lab, a, b in s.spans if a <= start < b), 0)
            labels.append(tags)
    return np.concatenate(rows), np.concatenate(labels)


def span_scores(tagger: NameTagger, sentences, windows, threshold: float | None = None) -> dict:
    """Per label: span recall, precision and F1 (a span counts when it overlaps one of the same label)."""
    counts = {lab: {"gold": 0, "hit": 0, "predicted": 0, "correct": 0} for lab in LABELS[1:]}
    for s, states in zip(sentences, windows):
        found = tagger.find(s.text, states, threshold)
        for lab, a, b in s.spans:
            counts[lab]["gold"] += 1
            counts[lab]["hit"] += any(e.type == lab and e.start < b and a < e.end for e in found)
        for e in found:
            counts[e.type]["predicted"] += 1
            counts[e.type]["correct"] += any(lab == e.type and e.start < b and a < e.end for lab, a, b in s.spans)
    out = {}
    for lab, c in counts.items():
        recall = c["hit"] / c["gold"] if c["gold"] else 0.0
        precision = c["correct"] / c["predicted"] if c["predicted"] else 0.0
        f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        out[lab] = {**c, "recall": round(recall, 4), "precision": round(precision, 4), "f1": round(f1, 4)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000, help="training sentences (seed 0)")
    parser.add_argument("--validation", type=int, default=1000, help="held-out sentences (seed 1)")
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    embedder = Embedder()
    t0 = time.perf_counter()
    train, validation = Generator(0).sentences(args.train), Generator(1).sentences(args.validation)
    X, y = token_rows(embedder, train)
    encode_s = time.perf_counter() - t0
    print(f"{len(train)} sentences, {len(X)} tokens encoded in {encode_s:.0f} s", flush=True)
    t1 = time.perf_counter()
    head = TokenHead(len(LABELS), hidden=args.hidden, epochs=args.epochs).fit(X, y)
    print(f"trained in {time.perf_counter() - t1:.0f} s", flush=True)
    head.export(MODEL, labels=LABELS, embedder_id=embedder.id, int8=True)
    windows = [embedder.token_states(s.text) for s in validation]
    tagger = NameTagger(MODEL)
    by_threshold = {t: span_scores(tagger, validation, windows, t) for t in THRESHOLDS}
    threshold = max(THRESHOLDS, key=lambda t: np.mean([c["f1"] for c in by_threshold[t].values()]))
    head.export(MODEL, labels=LABELS, embedder_id=embedder.id, threshold=threshold, int8=True)
    tagger = NameTagger(MODEL)
    scores = span_scores(tagger, validation, windows)
    probe = embedder.token_states("Please send the invoice to Maria Lopez at Acme Corp, 12 Baker Street.")[0]
    timings = []
    for _ in range(200):
        t = time.perf_counter()
        tagger.probabilities("Please send the invoice to Maria Lopez at Acme Corp, 12 Baker Street.", probe)
        timings.append((time.perf_counter() - t) * 1e3)
    card = {
        "model": MODEL.name, "labels": list(LABELS), "embedder": embedder.id,
        "input": "per token: the encoder's last hidden state (384), 8 surface features, and the states of the "
                 "tokens before and after it (name_tagger.token_inputs)",
        "architecture": f"MLP {X.shape[1]} -> {args.hidden} (ReLU) -> {len(LABELS)} softmax, int8 weights "
                        "(onnxruntime dynamic quantisation, per channel)",
        "training": {"sentences": len(train), "tokens": int(len(X)), "seed": 0, "epochs": args.epochs,
                     "data": "synthetic: models/privacy/synthetic.py templates, Faker values (15 locales)",
                     "label_tokens": {lab: int((y == i).sum()) for i, lab in enumerate(LABELS)}},
        "threshold": threshold,
        "validation": {"sentences": len(validation), "seed": 1, "span_scores": scores,
                       "mean_f1_by_threshold": {str(t): round(float(np.mean([c["f1"] for c in v.values()])), 4)
                                                for t, v in by_threshold.items()}},
        "head_ms_p50": round(float(np.median(timings)), 3),
        "bytes": MODEL.stat().st_size,
        "machine": environment.describe()["cpu"],
        "built": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "never_trained_on": "Presidio's evaluation sentences (pii/synth_dataset_v2.json), the benchmark questions",
    }
    CARD.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(card["validation"], indent=1), card["head_ms_p50"], "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
