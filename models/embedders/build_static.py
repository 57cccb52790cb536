"""Build minilm-l6-v2-static.npy: a static token table distilled from MiniLM.

A static embedding replaces the transformer with one table lookup per token:
the sentence vector is the L2-normalised sum of the query's token rows. The
table is distilled from the registry's MiniLM (the recipe model2vec popularised):

1. every vocabulary entry goes through the model alone (``[CLS] token [SEP]``)
   and its mean-pooled output is that token's vector;
2. PCA keeps the ``DIM`` directions of most variance (the mean is removed first);
3. each row is scaled by its SIF weight a / (a + p(token)), with p counted over
   the training prompts of every built-in training set (never an evaluation
   prompt), so frequent tokens ("the", "?") count little in the sum;
4. special tokens get zero rows; the table is stored as float16, memory-mapped
   at run time.

Routing quality against MiniLM on the same labels is measured by
``edge-router bench`` (the encoders table of ``benchmarks/results/overhead.md``).
Needs the shared data (token counts). Run from the repository root:

    python models/embedders/build_static.py
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from edge_router.backends.embedder import Embedder
from edge_router.data import datasets
from edge_router.defaults import TRAINING_SETS

OUT = Path(__file__).parents[1] / "extra" / "embedders" / "minilm-l6-v2-static.npy"  # second distribution
TEACHER = "all-minilm-l6-v2-onnx-int8"
DIM = 256
SIF_A = 1e-4
BATCH = 256


def token_vectors(teacher: Embedder) -> np.ndarray:
    """Each vocabulary entry's sentence vector through the teacher, unnormalised."""
    vocab = teacher.tokenizer.get_vocab_size()
    cls, sep = teacher.tokenizer.token_to_id("[CLS]"), teacher.tokenizer.token_to_id("[SEP]")
    out = np.zeros((vocab, teacher.dim), np.float32)
    for start in range(0, vocab, BATCH):
        ids = [[cls, i, sep] for i in range(start, min(start + BATCH, vocab))]
        out[start : start + len(ids)] = teacher.pooled(ids)
        print(f"\r{start + len(ids)}/{vocab} tokens", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def token_counts(teacher: Embedder) -> tuple[np.ndarray, int]:
    """How often each token occurs in the training prompts, and how many prompts were read."""
    prompts, _ = datasets.without_evaluation_prompts([p for name in TRAINING_SETS for p in datasets.load(name)])
    counts = np.zeros(teacher.tokenizer.get_vocab_size(), np.int64)
    for enc in teacher.tokenizer.encode_batch([p.question for p in prompts], add_special_tokens=False):
        np.add.at(counts, enc.ids, 1)
    return counts, len(prompts)


def main() -> int:
    teacher = Embedder(name=TEACHER, max_tokens=8)
    vectors = token_vectors(teacher)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:DIM].T
    counts, n_prompts = token_counts(teacher)
    weights = SIF_A / (SIF_A + counts / counts.sum())
    table = reduced * weights[:, None]
    for token in ("[PAD]", "[CLS]", "[SEP]", "[MASK]"):
        table[teacher.tokenizer.token_to_id(token)] = 0.0
    np.save(OUT, table.astype(np.float16))
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT}: {OUT.stat().st_size} bytes, sha256 {digest}; {table.shape[0]} tokens x {DIM}, "
          f"counts from {n_prompts} training prompts ({int((counts > 0).sum())} distinct tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
