"""Small helpers shared by the router exporters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...backends.router_model import EMBEDDER_KEY, KIND_KEY
from ..onnx_export import import_onnx, save_graph


def helpers() -> tuple[Any, Any, Any]:
    onnx = import_onnx()
    return onnx.helper, onnx.numpy_helper, onnx.TensorProto


def const(name: str, value: np.ndarray) -> Any:
    return helpers()[1].from_array(np.asarray(value), name)


def save_router(nodes: list, inits: list, path: str | Path, *, dim: int, kind: str, embedder_id: str,
                output: str = "score", extra_meta: dict[str, str] | None = None) -> Path:
    """A graph from ``embedding: float32[batch, dim]`` to ``output: float32[batch]``, saved with metadata."""
    helper, _, tp = helpers()
    graph = helper.make_graph(
        nodes, f"{kind}_router",
        [helper.make_tensor_value_info("embedding", tp.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(output, tp.FLOAT, ["batch"])],
        inits,
    )
    return save_graph(graph, path, {KIND_KEY: kind, EMBEDDER_KEY: embedder_id, **(extra_meta or {})})


def similarity_nodes(train: np.ndarray, *, int8: bool) -> tuple[list, list]:
    """Nodes computing ``sims = embedding @ train.T`` ([batch, n]); int8 stores rows with per-row scales."""
    helper = helpers()[0]
    if not int8:
        return [helper.make_node("MatMul", ["embedding", "train_t"], ["sims"])], [
            const("train_t", train.T.astype(np.float32))]
    scales = np.abs(train).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    q = np.clip(np.round(train / scales[:, None]), -127, 127).astype(np.int8)
    nodes = [
        helper.make_node("Cast", ["train_q"], ["train_f"], to=helpers()[2].FLOAT),
        helper.make_node("MatMul", ["embedding", "train_f"], ["sims_raw"]),
        helper.make_node("Mul", ["sims_raw", "row_scales"], ["sims"]),
    ]
    return nodes, [const("train_q", q.T), const("row_scales", scales.astype(np.float32))]
