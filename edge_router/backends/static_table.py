"""A static embedding table: one row per token; a text's vector is the sum of its tokens' rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptModelError


class StaticTable:
    """A ``[vocabulary, dim]`` table in a ``.npy`` file, memory-mapped so only the rows read are resident."""

    def __init__(self, path: Path, vocab_size: int):
        self.path = path
        try:
            self.table = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise CorruptModelError(f"{path} is not a .npy token table ({exc}); pull it again.") from exc
        if self.table.ndim != 2 or self.table.shape[0] != vocab_size:
            raise CorruptModelError(
                f"{path} holds a table of shape {self.table.shape}; the tokenizer needs {vocab_size} rows, "
                "one per token. Use the table built for this tokenizer.")
        self.dim = int(self.table.shape[1])

    def pooled(self, ids: list[list[int]]) -> np.ndarray:
        return np.stack([self.table[seq].sum(axis=0, dtype=np.float32) for seq in ids])
