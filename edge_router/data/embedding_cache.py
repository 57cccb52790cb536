"""Embeddings of many prompts, kept on disk by prompt hash and embedder sha256.

One ``.npz`` file per embedder file (named by its sha256) under ``<cache>/embeddings``; prompts not yet
in it are embedded in batches and the file is rewritten atomically, so a second evaluation of the same
prompts embeds nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..backends.embedder import Embedder
from ..files.model_store import sha256_of
from ..settings import cache_dir


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, embedder: Embedder, folder: str | Path | None = None):
        self.embedder = embedder
        self.embedder_sha256 = sha256_of(Path(embedder.model_path))
        folder = Path(folder) if folder is not None else cache_dir() / "embeddings"
        self.path = folder / f"{self.embedder_sha256[:32]}-{embedder.max_tokens}.npz"
        self.hits = self.misses = 0

    def _read(self) -> dict[str, np.ndarray]:
        if not self.path.exists():
            return {}
        with np.load(self.path) as data:
            return dict(zip(data["keys"].tolist(), data["vectors"]))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in order, computing only the ones not cached."""
        stored = self._read()
        keys = [_key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in stored}
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if missing:
            vectors = self.embedder.embed(list(missing.values()))
            stored.update(zip(missing, vectors))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(stored)), vectors=np.stack(list(stored.values())))
            os.replace(tmp, self.path)
        return np.stack([stored[k] for k in keys]).astype(np.float32)
