"""Build all-MiniLM-L6-v2-dynint8.onnx: the registry's int8 MiniLM with real int8 kernels.

The registry's default embedder (``all-minilm-l6-v2-onnx-int8``) stores int8
weights but multiplies them back to float32 when the session is created, so it
runs float32 matrix products and holds float32 weights in memory. This script

1. lets onnxruntime fold that dequantization into a float32 graph
   (``edge_router.files.onnx_session.save_folded``), then
2. quantizes the float32 graph dynamically (``onnxruntime.quantization.
   quantize_dynamic``: int8 per-channel weights for MatMul and Gather, activations
   quantized at run time), so the matrix products run as integer kernels,

and prints the file's size and sha256 (for the registry). Speed, memory and
agreement with the source model are measured by ``edge-router bench``. Needs the
``onnx`` extra. Run from the repository root:

    python models/embedders/build.py
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

from edge_router.files import model_store, registry
from edge_router.files.onnx_session import save_folded

OUT = Path(__file__).parent / "all-MiniLM-L6-v2-dynint8.onnx"


def main() -> int:
    source = model_store.resolve(registry.get_spec("all-minilm-l6-v2-onnx-int8"))
    with tempfile.TemporaryDirectory() as tmp:
        folded = save_folded(source, Path(tmp) / "fp32.onnx")
        quantize_dynamic(str(folded), str(OUT), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], per_channel=True)
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT}: {OUT.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
