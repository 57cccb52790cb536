"""Write router files that follow the scoring contract (needs the ``onnx`` extra).

The runtime only reads router files; building them needs the ``onnx`` package,
which is imported here on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..backends.router_model import EMBEDDER_KEY, KIND_KEY
from ..errors import require

OPSET = 17


def import_onnx() -> Any:
    """The onnx package, which writing router files needs (the runtime does not)."""
    return require("onnx", "'edge-router[onnx]'")


def save_graph(graph: Any, path: str | Path, metadata: dict[str, str]) -> Path:
    """Check ``graph`` and save it with ``metadata`` in the model's metadata_props."""
    onnx = import_onnx()
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def linear_router(
    path: str | Path,
    weights: np.ndarray,
    bias: float,
    *,
    embedder_id: str | None,
    kind: str = "logistic",
    sigmoid: bool = True,
) -> Path:
    """A logistic router: score = sigmoid(embedding @ weights + bias).

    ``sigmoid=False`` leaves raw logits (which the runtime refuses: for tests).
    ``embedder_id=None`` leaves the embedder out of the metadata (refused too).
    """
    onnx = import_onnx()
    helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    dim = len(weights)
    inits = [
        numpy_helper.from_array(np.asarray(weights, np.float32).reshape(dim, 1), "w"),
        numpy_helper.from_array(np.array([bias], np.float32), "b"),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
    ]
    nodes = [helper.make_node("MatMul", ["embedding", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["logit"])]
    last = "logit"
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["logit"], ["prob"]))
        last = "prob"
    nodes.append(helper.make_node("Reshape", [last, "flat"], ["score"]))
    graph = helper.make_graph(
        nodes, "router",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])],
        inits,
    )
    metadata = {KIND_KEY: kind}
    if embedder_id is not None:
        metadata[EMBEDDER_KEY] = embedder_id
    return save_graph(graph, path, metadata)
