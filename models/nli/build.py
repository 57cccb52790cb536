"""Export the NLI cross-encoder trained by ``train.py`` to ONNX, quantize it to int8 and measure it.

1. float32 ONNX from the torch weights (inputs ``input_ids``, ``attention_mask``, ``token_type_ids``;
   output ``logits`` [batch, 3]) with metadata: label map, vocabulary size, tokenizer sha256;
2. int8 with onnxruntime's dynamic quantization (MatMul and Gather weights per channel);
3. accuracy of both on every held-out split, int8-vs-float32 agreement, latency per pair on one thread
   at 64 tokens;
4. ``nli-minilm-l6-int8.onnx`` and ``card.json`` into ``models/extra/nli/`` (the README here is the card in prose). The
   base model's tokenizer.json is byte-identical to the registry's ``all-minilm-l6-v2-tokenizer``, which
   the runtime loads with the model; the build checks that and stops if it ever differs.

Needs the ``train-nli`` extra. Run from the repository root:

    python models/nli/build.py [--weights PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

sys.path.insert(0, str(Path(__file__).parent))
from train import BASE_MODEL, WORK, CrossEncoder  # noqa: E402

from edge_router import registry  # noqa: E402
from edge_router.data.nli_data import HELD_OUT_SPLITS, LABELS, load_split  # noqa: E402
from edge_router.files import model_store
from edge_router.uncertainty.entailment import CROSS_ENCODER_TOKENIZER, EntailmentClusterer  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE.parent / "extra" / "nli"  # the second distribution (models/extra/README.md)
MODEL = OUT / "nli-minilm-l6-int8.onnx"
CARD = OUT / "card.json"
LABEL_MAP = {label: i for i, label in enumerate(LABELS)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_float32(weights: Path, out: Path, tokenizer_sha256: str, vocab_size: int) -> Path:
    model = CrossEncoder()
    model.load_state_dict(torch.load(weights))
    model.eval()
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long),
               torch.zeros(2, 16, dtype=torch.long))
    torch.onnx.export(
        model, example, str(out), input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"], opset_version=17, dynamo=False,
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
        | {"logits": {0: "batch"}},
    )
    graph = onnx.load(str(out))
    for key, value in {"label_map": json.dumps(LABEL_MAP), "vocab_size": str(vocab_size),
                       "tokenizer_sha256": tokenizer_sha256, "base_model": BASE_MODEL}.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(out))
    return out


def accuracy_table(clusterer: EntailmentClusterer, max_pairs: int, batch: int = 64) -> tuple[dict, dict]:
    """Accuracy on the first ``max_pairs`` of each held-out split and every prediction (for agreement)."""
    results, predictions = {}, {}
    for split in HELD_OUT_SPLITS:
        pairs = load_split(split)[:max_pairs]
        predicted = []
        for start in range(0, len(pairs), batch):
            chunk = pairs[start:start + batch]
            predicted += clusterer.entailment_labels([(p.premise, p.hypothesis) for p in chunk])
        results[split] = {"pairs": len(pairs),
                          "accuracy": float(np.mean([g.label == p for g, p in zip(pairs, predicted)]))}
        predictions[split] = predicted
    return results, predictions


def latency_ms(clusterer: EntailmentClusterer, tokens: int = 64, repeats: int = 50) -> float:
    """Median time of one pair of ``tokens`` tokens (premise and hypothesis of equal length)."""
    words = " ".join(["word"] * (tokens // 2 - 2))
    pair = [(words, words)]
    clusterer.entailment_labels(pair)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        clusterer.entailment_labels(pair)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WORK / "nli-minilm-fp32.pt")
    parser.add_argument("--training", type=Path, default=None, help="training.json beside the weights")
    parser.add_argument("--max-pairs", type=int, default=2000, help="pairs per held-out split (first N)")
    args = parser.parse_args(argv)
    archive = model_store.resolve(registry.get_spec(BASE_MODEL))
    tokenizer = model_store.resolve(registry.get_spec(CROSS_ENCODER_TOKENIZER))
    with zipfile.ZipFile(archive) as zf:
        if hashlib.sha256(zf.read("tokenizer.json")).hexdigest() != sha256(tokenizer):
            raise SystemExit(f"the base model's tokenizer differs from {CROSS_ENCODER_TOKENIZER}; register it first")
    from tokenizers import Tokenizer

    vocab_size = Tokenizer.from_file(str(tokenizer)).get_vocab_size()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_float32(args.weights, Path(tmp) / "fp32.onnx", sha256(tokenizer), vocab_size)
        quantize_dynamic(str(fp32), str(MODEL), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], per_channel=True)
        fp32_bytes = fp32.stat().st_size
        fp32_clusterer = EntailmentClusterer(fp32, tokenizer, max_tokens=128)
        fp32_acc, fp32_pred = accuracy_table(fp32_clusterer, args.max_pairs)
        fp32_latency = latency_ms(fp32_clusterer)
    int8_clusterer = EntailmentClusterer(MODEL, tokenizer, max_tokens=128)
    int8_acc, int8_pred = accuracy_table(int8_clusterer, args.max_pairs)
    held_out = {
        split: {"pairs": int8_acc[split]["pairs"], "accuracy_int8": int8_acc[split]["accuracy"],
                "accuracy_float32": fp32_acc[split]["accuracy"],
                "int8_float32_agreement": float(np.mean([a == b for a, b in zip(int8_pred[split], fp32_pred[split])]))}
        for split in HELD_OUT_SPLITS
    }
    training = args.training or args.weights.with_name("training.json")
    card = {
        "file": MODEL.name, "bytes": MODEL.stat().st_size, "sha256": sha256(MODEL),
        "float32_bytes": fp32_bytes, "tokenizer_sha256": sha256(tokenizer), "label_map": LABEL_MAP,
        "base_model": {"name": BASE_MODEL, "sha256": registry.get_spec(BASE_MODEL).sha256},
        "training": json.loads(training.read_text()) if training.exists() else None,
        "held_out": held_out,
        "held_out_pairs_per_split": f"the first {args.max_pairs} of each split (all when it is smaller)",
        "latency_ms_per_pair_64_tokens_1_thread": {"int8": latency_ms(int8_clusterer), "float32": fp32_latency},
        "built_with": {"torch": torch.__version__, "onnx": onnx.__version__,
                       "onnxruntime": __import__("onnxruntime").__version__},
    }
    CARD.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
