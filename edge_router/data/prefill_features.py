"""Stored prefill states (``LocalLLM.prefill_state``) of many prompts, for training and measuring probes.

A folder of shards, each an ``.npz`` holding the keys of its prompts and their per-layer states as float16
(``last``: n x layers x width; ``mean``: n x (layers - 1) x width; ``tokens``). A shard is written to a
temporary name and renamed, so a stopped job leaves whole shards only; rerunning skips the keys already stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..backends.prefill_state import PrefillState


class FeatureStore:
    """Prefill states by key (``source/dataset/index``) under ``folder``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("*.npz")) if self.folder.is_dir() else []

    def keys(self) -> set[str]:
        keys: set[str] = set()
        for shard in self._shards():
            with np.load(shard) as data:
                keys.update(str(k) for k in data["keys"])
        return keys

    def token_counts(self) -> dict[str, int]:
        """Key → the prompt's length in tokens."""
        counts: dict[str, int] = {}
        for shard in self._shards():
            with np.load(shard) as data:
                counts.update(zip((str(k) for k in data["keys"]), (int(n) for n in data["tokens"])))
        return counts

    def add(self, keys: Sequence[str], states: Sequence[PrefillState]) -> None:
        """Store one shard of ``keys`` and their ``states``."""
        if not keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{len(self._shards()):06d}-{os.getpid()}"
        temporary = self.folder / f"{name}.tmp.npz"
        np.savez(temporary, keys=np.asarray(keys), tokens=np.asarray([s.n_tokens for s in states]),
                 last=np.stack([s.last for s in states]).astype(np.float16),
                 mean=np.stack([s.mean for s in states]).astype(np.float16))
        temporary.rename(self.folder / f"{name}.npz")

    def load(self, *, layers: Sequence[int] | None = None, pooling: str = "last",
             prefix: str = "") -> tuple[list[str], np.ndarray]:
        """(keys, float32 array n x len(layers) x width) of every stored prompt whose key starts with
        ``prefix``; ``pooling`` is ``last`` or ``mean``; all layers when ``layers`` is None."""
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling must be 'last' or 'mean', not {pooling!r}")
        keys, parts = [], []
        for shard in self._shards():
            with np.load(shard) as data:
                chosen = [i for i, k in enumerate(data["keys"]) if str(k).startswith(prefix)]
                if not chosen:
                    continue
                block = data[pooling][chosen]
                parts.append(block if layers is None else block[:, list(layers)])
                keys.extend(str(data["keys"][i]) for i in chosen)
        if not parts:
            return [], np.zeros((0, 0, 0), dtype=np.float32)
        return keys, np.concatenate(parts).astype(np.float32)
