"""A token classifier head: a two-layer MLP with a softmax over labels, trained on token rows with Adam.

Used for the privacy stage's name tagger (``privacy/name_tagger.py``). Rows are tokens (encoder state beside
surface features), standardised, labels are indices into the tagger's label list; classes are weighted by the
inverse square root of their frequency, so the rare name tokens are not drowned by the ``O`` tokens. Exported as
an ONNX graph ``tokens: float32[n, dim] -> probs: float32[n, labels]``, optionally with int8 weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .onnx_export import save_graph
from .optim import adam, softmax
from .routers._graph import const, helpers


class TokenHead:
    def __init__(self, n_labels: int, hidden: int = 128, epochs: int = 8, batch: int = 512, lr: float = 0.002,
                 weight_decay: float = 1e-5, seed: int = 0):
        self.n_labels, self.hidden, self.epochs, self.batch = n_labels, hidden, epochs, batch
        self.lr, self.weight_decay, self.seed = lr, weight_decay, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> TokenHead:
        X = np.asarray(X, np.float32)
        counts = np.bincount(y, minlength=self.n_labels).astype(np.float64)
        class_weight = (counts.sum() / np.maximum(counts, 1)) ** 0.5
        class_weight = (class_weight / class_weight[y].mean()).astype(np.float32)
        self.mean, self.scale = X.mean(axis=0), X.std(axis=0) + 1e-4
        Xn = (X - self.mean) / self.scale
        rng = np.random.default_rng(self.seed)
        d = X.shape[1]
        p = {"W1": rng.normal(scale=np.sqrt(2 / d), size=(d, self.hidden)).astype(np.float32),
             "b1": np.zeros(self.hidden, np.float32),
             "W2": rng.normal(scale=np.sqrt(1 / self.hidden), size=(self.hidden, self.n_labels)).astype(np.float32),
             "b2": np.zeros(self.n_labels, np.float32)}
        state: dict = {}
        onehot = np.eye(self.n_labels, dtype=np.float32)
        for _ in range(self.epochs):
            order = rng.permutation(len(Xn))
            for start in range(0, len(order), self.batch):
                rows = order[start:start + self.batch]
                xb, yb = Xn[rows], y[rows]
                pre = xb @ p["W1"] + p["b1"]
                h = np.maximum(pre, 0.0)
                probs = softmax(h @ p["W2"] + p["b2"])
                d_logits = (probs - onehot[yb]) * class_weight[yb][:, None] / len(rows)
                d_h = (d_logits @ p["W2"].T) * (pre > 0)
                grads = {"W2": h.T @ d_logits + self.weight_decay * p["W2"], "b2": d_logits.sum(axis=0),
                         "W1": xb.T @ d_h + self.weight_decay * p["W1"], "b1": d_h.sum(axis=0)}
                adam(p, grads, state, lr=self.lr)
        # The standardisation stays a float step of its own: folded into W1, the weights of near-constant inputs
        # would dwarf the others and int8 would keep little of them.
        self.params = {"mean": self.mean.astype(np.float32), "inv_scale": (1.0 / self.scale).astype(np.float32),
                       **p}
        return self

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        p = self.params
        x = (np.asarray(X, np.float32) - p["mean"]) * p["inv_scale"]
        h = np.maximum(x @ p["W1"] + p["b1"], 0.0)
        return softmax(h @ p["W2"] + p["b2"])

    def export(self, path: str | Path, *, labels: tuple[str, ...], embedder_id: str, threshold: float = 0.5,
               int8: bool = True) -> Path:
        """Write the head with the ``threshold`` its tagger applies; with ``int8`` its weights are quantised by
        onnxruntime (per channel)."""
        helper, _, tp = helpers()
        p = self.params
        nodes = [
            helper.make_node("Sub", ["tokens", "mean"], ["centred"]),
            helper.make_node("Mul", ["centred", "inv_scale"], ["standard"]),
            helper.make_node("MatMul", ["standard", "W1"], ["a1"]), helper.make_node("Add", ["a1", "b1"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["a2"]),
            helper.make_node("Add", ["a2", "b2"], ["logits"]), helper.make_node("Softmax", ["logits"], ["probs"],
                                                                                axis=1),
        ]
        graph = helper.make_graph(
            nodes, "token_head", [helper.make_tensor_value_info("tokens", tp.FLOAT, ["n", p["W1"].shape[0]])],
            [helper.make_tensor_value_info("probs", tp.FLOAT, ["n", len(labels)])],
            [const(k, v) for k, v in p.items()])
        meta = {"edge_router.kind": "token_head", "edge_router.embedder": embedder_id,
                "edge_router.labels": json.dumps(list(labels)), "edge_router.threshold": str(threshold)}
        path = Path(path)
        if not int8:
            return save_graph(graph, path, meta)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        fp32 = path.with_suffix(".fp32.onnx")
        save_graph(graph, fp32, meta)
        try:
            quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            fp32.unlink(missing_ok=True)
        return path
