"""Train the embedding-feature NLI classifier and export it to ONNX (numpy only; needs the ``onnx`` extra).

Features of a pair: u, v, |u − v|, u ⊙ v from the runtime's default embedder; a two-layer MLP (ReLU,
softmax over entailment / neutral / contradiction) trained with Adam on mini-batches of a seeded sample
of the NLI training splits. Writes ``nli-embedding-features.onnx`` and ``features_card.json`` into
``models/extra/nli/``, with accuracy on every held-out split. Run from the repository root:

    python models/nli/build_features.py [--pairs 30000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from edge_router import Embedder
from edge_router.data.embedding_cache import EmbeddingCache
from edge_router.data.nli_data import HELD_OUT_SPLITS, LABELS, TRAIN_SPLITS, load_split
from edge_router.training.onnx_export import import_onnx, save_graph
from edge_router.training.optim import adam

HERE = Path(__file__).parent
OUT = HERE.parent / "extra" / "nli"  # the second distribution (models/extra/README.md)
MODEL = OUT / "nli-embedding-features.onnx"
CARD = OUT / "features_card.json"


def features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


def vectors(cache: EmbeddingCache, pairs) -> tuple[np.ndarray, np.ndarray]:
    texts = list(dict.fromkeys(t for p in pairs for t in (p.premise, p.hypothesis)))
    table = dict(zip(texts, cache.embed(texts)))
    return (np.stack([table[p.premise] for p in pairs]), np.stack([table[p.hypothesis] for p in pairs]))


def train(X: np.ndarray, y: np.ndarray, *, hidden: int, epochs: int, lr: float, batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    p = {"W1": rng.normal(scale=np.sqrt(2 / d), size=(d, hidden)), "b1": np.zeros(hidden),
         "W2": rng.normal(scale=np.sqrt(1 / hidden), size=(hidden, 3)), "b2": np.zeros(3)}
    state: dict = {}
    onehot = np.eye(3)[y]
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            pre = X[idx] @ p["W1"] + p["b1"]
            h = np.maximum(pre, 0.0)
            logits = h @ p["W2"] + p["b2"]
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            d_logits = (probs - onehot[idx]) / len(idx)
            d_h = (d_logits @ p["W2"].T) * (pre > 0)
            grads = {"W2": h.T @ d_logits + 1e-4 * p["W2"], "b2": d_logits.sum(0),
                     "W1": X[idx].T @ d_h + 1e-4 * p["W1"], "b1": d_h.sum(0)}
            adam(p, grads, state, lr=lr)
    return {k: v.astype(np.float32) for k, v in p.items()}


def predict(p: dict, X: np.ndarray) -> np.ndarray:
    return (np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]).argmax(1)


def export(p: dict, dim: int, embedder_id: str) -> Path:
    onnx = import_onnx()
    helper, numpy_helper, tp = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    nodes = [
        helper.make_node("Sub", ["premise", "hypothesis"], ["diff"]),
        helper.make_node("Abs", ["diff"], ["absdiff"]),
        helper.make_node("Mul", ["premise", "hypothesis"], ["prod"]),
        helper.make_node("Concat", ["premise", "hypothesis", "absdiff", "prod"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "W1"], ["a1"]),
        helper.make_node("Add", ["a1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["h"]),
        helper.make_node("MatMul", ["h", "W2"], ["a2"]),
        helper.make_node("Add", ["a2", "b2"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "nli_embedding_features",
        [helper.make_tensor_value_info(name, tp.FLOAT, ["batch", dim]) for name in ("premise", "hypothesis")],
        [helper.make_tensor_value_info("logits", tp.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(v, k) for k, v in p.items()],
    )
    label_map = json.dumps({label: i for i, label in enumerate(LABELS)})
    return save_graph(graph, MODEL, {"label_map": label_map, "embedder_id": embedder_id})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=30000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    embedder = Embedder()
    cache = EmbeddingCache(embedder)
    pool = [pair for split in TRAIN_SPLITS for pair in load_split(split)]
    random.Random(args.seed).shuffle(pool)
    pairs = pool[:args.pairs]
    started = time.perf_counter()
    u, v = vectors(cache, pairs)
    embed_seconds = time.perf_counter() - started
    y = np.array([LABELS.index(p.label) for p in pairs])
    started = time.perf_counter()
    params = train(features(u, v), y, hidden=args.hidden, epochs=args.epochs, lr=args.lr, batch=256, seed=args.seed)
    train_seconds = time.perf_counter() - started
    export(params, embedder.dim, embedder.id)
    held_out = {}
    for split in HELD_OUT_SPLITS:
        test = load_split(split)
        tu, tv = vectors(cache, test)
        gold = np.array([LABELS.index(p.label) for p in test])
        held_out[split] = {"pairs": len(test), "accuracy": float((predict(params, features(tu, tv)) == gold).mean())}
    card = {"file": MODEL.name, "bytes": MODEL.stat().st_size,
            "sha256": hashlib.sha256(MODEL.read_bytes()).hexdigest(), "embedder_id": embedder.id,
            "features": "u, v, |u - v|, u * v", "hidden": args.hidden, "epochs": args.epochs, "lr": args.lr,
            "pairs": len(pairs), "seed": args.seed, "train_splits": list(TRAIN_SPLITS),
            "embed_seconds": round(embed_seconds, 1), "train_seconds": round(train_seconds, 1),
            "held_out": held_out}
    CARD.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
