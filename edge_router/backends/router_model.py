"""The router scoring contract: an ONNX file from query embeddings to P(cloud preferred).

A router file has one input ``float32[batch, dim]`` (L2-normalised query
embeddings) and one output ``float32[batch]`` in [0, 1]. Its ONNX metadata
names the embedder it was trained on (``embedder_id``) and may give its
``kind`` (knn, sw, mf, mlp, ...). Loading checks all of this against the
embedder in use, so a router trained on other embeddings is refused, not
silently misused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..defaults import check_cloud_share
from ..errors import RouterModelError
from ..files.onnx_session import create_session

EMBEDDER_KEY = "embedder_id"
KIND_KEY = "kind"


def trained_on(path: str | os.PathLike) -> str | None:
    """The embedder id a router file names, or None (a card beside it is read first: no session needed)."""
    card = Path(path).with_suffix(".json")
    if card.is_file():
        named = json.loads(card.read_text(encoding="utf-8")).get("embedder_id")
        if named:
            return named
    session = create_session(path, fix="pass a router file that `edge-router train` wrote")
    return session.get_modelmeta().custom_metadata_map.get(EMBEDDER_KEY)


class RouterModel:
    """A loaded, validated router file."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        embedder_id: str,
        dim: int,
        threads: int | None = 1,
    ):
        self.path = Path(path)
        self._session = create_session(
            self.path, threads=threads,
            fix="pass a router file that `edge-router train` wrote, or train one (see the README)")
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self.kind = self.metadata.get(KIND_KEY, "unknown")
        self.id = f"{self.path.stem}:{self.kind}"
        self._check_signature(dim)
        trained_on = self.metadata.get(EMBEDDER_KEY)
        if trained_on is None:
            raise RouterModelError(
                f"{self.path} does not say which embedder it was trained on; add the ONNX metadata "
                f"'{EMBEDDER_KEY}' (the embedder id, here {embedder_id!r}) when exporting it."
            )
        if trained_on != embedder_id:
            raise RouterModelError(
                f"{self.path} was trained on embeddings of {trained_on!r}, but this router embeds queries "
                f"with {embedder_id!r}. Use a router trained for {embedder_id!r}, or build the Embedder "
                f"that {trained_on!r} names."
            )
        self.dim = dim
        card = self.path.with_suffix(".json")
        self.card = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}

    @property
    def local_model(self) -> str | None:
        """The local model whose answers the router's labels judged (from its card), if known."""
        return (self.card.get("training_data") or {}).get("weak_model")

    def threshold_for_share(self, cloud_share: float) -> float:
        """The calibrated threshold that sends ``cloud_share`` of queries to the cloud (from the card).

        Interpolates linearly between the calibrated shares (10 % … 90 %). The share
        holds only for queries like the calibration prompts.
        """
        table = self.card.get("thresholds") or []
        if not table:
            raise RouterModelError(
                f"{self.path} has no calibration table; run `edge-router calibrate {self.path}` "
                "or pass a threshold instead of a cloud share."
            )
        return threshold_from_table(table, cloud_share)

    def _check_signature(self, dim: int) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise RouterModelError(
                f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; a router file has exactly "
                "one input float32[batch, dim] and one output float32[batch]."
            )
        inp, out = inputs[0], outputs[0]
        if inp.type != "tensor(float)" or len(inp.shape) != 2:
            raise RouterModelError(
                f"{self.path} takes {inp.type} of shape {inp.shape}; a router takes float32[batch, dim]."
            )
        if isinstance(inp.shape[1], int) and inp.shape[1] != dim:
            raise RouterModelError(
                f"{self.path} expects {inp.shape[1]}-dimensional embeddings but the embedder gives {dim}; "
                "use a router trained with this embedder."
            )
        if out.type != "tensor(float)" or len(out.shape) != 1:
            raise RouterModelError(
                f"{self.path} returns {out.type} of shape {out.shape}; a router returns float32[batch]."
            )
        self._input_name = inp.name

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """P(cloud preferred) for each row of ``vectors`` (``float32[batch, dim]``)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise RouterModelError(f"expected embeddings of shape [batch, {self.dim}], got {vectors.shape}.")
        scores = np.asarray(self._session.run(None, {self._input_name: vectors})[0])
        if scores.shape != (vectors.shape[0],):
            raise RouterModelError(
                f"{self.path} returned shape {scores.shape} for a batch of {vectors.shape[0]}; expected "
                f"({vectors.shape[0]},)."
            )
        if not np.all(np.isfinite(scores)) or scores.min() < 0.0 or scores.max() > 1.0:
            raise RouterModelError(
                f"{self.path} returned scores outside [0, 1] ({scores.min():.4g} .. {scores.max():.4g}); "
                "a router must output probabilities. Add a sigmoid or softmax to the exported graph."
            )
        return scores


def threshold_from_table(table: list[dict], cloud_share: float) -> float:
    """The threshold for ``cloud_share``, interpolated linearly in a calibration table (rows of ``cloud_share`` and
    ``threshold``, as cards hold them)."""
    cloud_share = check_cloud_share(cloud_share)
    # np.interp needs increasing x: shares increase while thresholds decrease
    return float(np.interp(cloud_share, [row["cloud_share"] for row in table], [row["threshold"] for row in table]))
