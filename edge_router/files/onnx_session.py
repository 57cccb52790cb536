"""The one place edge-router creates ONNX Runtime sessions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import CorruptModelError, InvalidInputError, ModelNotFoundError, require


def import_onnxruntime() -> Any:
    """``onnxruntime``, imported on first use (it is heavy and the runtime may not need it)."""
    return require("onnxruntime", "onnxruntime")


def save_folded(path: str | os.PathLike, out: str | os.PathLike, *, extended: bool = False) -> Path:
    """Write ``path``'s graph after onnxruntime's basic optimisations (constant folding) to ``out``.

    For a model that stores int8 weights with a Cast·Mul dequantization, this is its float32 form.
    ``extended`` adds the operator fusions too (not the ALL level: its layout transforms are tied to this
    CPU's instruction set), which is an ahead-of-time optimised file.
    """
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = level.ORT_ENABLE_EXTENDED if extended else level.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(out)
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return Path(out)


def session_options(threads: int | None = 1) -> Any:
    """edge-router's ``onnxruntime.SessionOptions``: all graph optimisations, sequential execution, one
    inter-op thread, ``threads`` intra-op threads (``None`` lets onnxruntime choose), warnings off."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return options


def create_session(
    path: str | os.PathLike,
    *,
    threads: int | None = 1,
    providers: Sequence[str] | None = None,
    fix: str = "delete it and pull it again (`edge-router models pull`)",
) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path``.

    The options are ``session_options(threads)``, and each requested provider
    must be available here. ``fix`` is the advice a file
    that cannot be loaded gets.
    """
    ort = import_onnxruntime()
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"ONNX file {path} does not exist.")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InvalidInputError(f"threads must be a positive integer or None, not {threads!r}.")
    available = ort.get_available_providers()
    chosen = list(providers) if providers else ["CPUExecutionProvider"]
    missing = [p for p in chosen if p not in available]
    if missing:
        raise InvalidInputError(
            f"ONNX Runtime providers {missing} are not available here (available: {available}). "
            "Install the matching onnxruntime build or leave providers unset for the CPU."
        )
    try:
        return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=chosen)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise CorruptModelError(
            f"ONNX Runtime cannot load {path}: {exc}. The file is corrupted or not an ONNX model; {fix}."
        ) from exc
