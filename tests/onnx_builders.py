"""ONNX files the tests build themselves: router files (via edge_router.training.onnx_export) and a tiny NLI model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from edge_router.training.onnx_export import linear_router as logistic_router  # noqa: F401  (re-exported for tests)
from edge_router.training.onnx_export import save_graph


def token_overlap_nli(path: Path, *, vocab_size: int, negation_id: int, first_word_id: int = 999,
                      label_map: dict[str, int] | None = None, declared_vocab: int | None = None,
                      stored_label_map: dict | None = None) -> Path:
    """A rule-based NLI 'cross-encoder' over BERT pair inputs.

    premise = segment 0, hypothesis = segment 1, compared as sets of word tokens
    (ids >= first_word_id, so [CLS]/[SEP] do not count):
    contradiction when exactly one side has the negation token; else entailment
    when every hypothesis token is in the premise; else neutral.
    ``declared_vocab`` and ``stored_label_map`` override what the metadata claims.
    """
    label_map = label_map or {"entailment": 0, "neutral": 1, "contradiction": 2}
    word_mask = (np.arange(vocab_size) >= first_word_id).astype(np.float32)
    neg_onehot = np.zeros(vocab_size, np.float32)
    neg_onehot[negation_id] = 1.0
    inits = [
        numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "onehot_values"),
        numpy_helper.from_array(np.array(vocab_size, np.int64), "depth"),
        numpy_helper.from_array(word_mask, "word_mask"),
        numpy_helper.from_array(neg_onehot.reshape(vocab_size, 1), "neg_col"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(10.0, np.float32), "ten"),
        numpy_helper.from_array(np.array(5.0, np.float32), "five"),
        numpy_helper.from_array(np.array(20.0, np.float32), "twenty"),
    ]
    n = helper.make_node
    nodes = [
        n("OneHot", ["input_ids", "depth", "onehot_values"], ["onehot"], axis=-1),          # [b,s,V]
        n("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        n("Cast", ["token_type_ids"], ["type_f"], to=TensorProto.FLOAT),
        n("Mul", ["mask_f", "type_f"], ["mask_b"]),
        n("Sub", ["mask_f", "mask_b"], ["mask_a"]),
        n("Unsqueeze", ["mask_a", "axis2"], ["mask_a3"]),
        n("Unsqueeze", ["mask_b", "axis2"], ["mask_b3"]),
        n("Mul", ["onehot", "mask_a3"], ["oh_a"]),
        n("Mul", ["onehot", "mask_b3"], ["oh_b"]),
        n("ReduceSum", ["oh_a", "axis1"], ["count_a"], keepdims=0),                          # [b,V]
        n("ReduceSum", ["oh_b", "axis1"], ["count_b"], keepdims=0),
        n("Min", ["count_a", "one"], ["set_a"]),
        n("Min", ["count_b", "one"], ["set_b"]),
        n("MatMul", ["set_a", "neg_col"], ["neg_a"]),                                        # [b,1]
        n("MatMul", ["set_b", "neg_col"], ["neg_b"]),
        n("Sub", ["neg_a", "neg_b"], ["neg_diff"]),
        n("Abs", ["neg_diff"], ["neg_mismatch"]),
        n("Sub", ["set_b", "set_a"], ["b_not_a_raw"]),
        n("Relu", ["b_not_a_raw"], ["b_not_a"]),
        n("Mul", ["b_not_a", "word_mask"], ["b_not_a_words"]),
        n("ReduceSum", ["b_not_a_words", "axis1"], ["missing"], keepdims=1),                 # [b,1]
        n("Mul", ["missing", "ten"], ["missing10"]),
        n("Mul", ["neg_mismatch", "twenty"], ["neg20"]),
        n("Sub", ["five", "missing10"], ["ent0"]),
        n("Sub", ["ent0", "neg20"], ["ent_logit"]),
        n("Mul", ["neg_mismatch", "ten"], ["neg10"]),
        n("Sub", ["neg10", "five"], ["con_logit"]),
        n("Mul", ["missing", "zero"], ["neu_logit"]),
    ]
    by_column = sorted(label_map.items(), key=lambda kv: kv[1])
    logit_of = {"entailment": "ent_logit", "neutral": "neu_logit", "contradiction": "con_logit"}
    nodes.append(n("Concat", [logit_of[name] for name, _ in by_column], ["logits"], axis=1))
    graph = helper.make_graph(
        nodes, "nli",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
         for name in ("input_ids", "attention_mask", "token_type_ids")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        inits,
    )
    meta = {"label_map": json.dumps(stored_label_map or label_map), "vocab_size": str(declared_vocab or vocab_size)}
    return save_graph(graph, path, meta)
