"""Sentence embeddings with an ONNX encoder and a ``tokenizers`` tokenizer."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import CorruptModelError, InvalidInputError, require
from ..files import model_store, registry
from ..files.onnx_session import create_session
from .static_table import StaticTable


@dataclass(frozen=True)
class EmbeddedQuery:
    """One text's embedding and what it cost."""

    vector: np.ndarray
    n_tokens: int
    truncated: bool
    tokenize_ms: float
    embed_ms: float
    states: "TokenStates | None" = None


@dataclass(frozen=True)
class TokenStates:
    """The encoder's last hidden state per token of one pass (``float32[tokens, dim]``) with the tokenizer's
    ``encoding`` (ids, offsets into the text, word ids): what a token classifier reads."""

    hidden: np.ndarray
    encoding: Any


class Embedder:
    """Sentence embeddings, L2-normalised: an ONNX encoder mean-pooled, or a static token table summed.

    ``name`` picks a registered embedder (``edge-router models list``; default
    the registry's default); ``model_path`` overrides the file. A ``.npy`` file is a static
    table (one row per token, memory-mapped); anything else is a BERT-style ONNX
    encoder. Inputs longer than ``max_tokens`` are truncated (reported per query).
    Texts are encoded ``batch_size`` at a time (default one: a dynamically quantized
    encoder scales its activations over the whole batch, so a text's vector would
    depend on the texts beside it); batches are padded to their longest member only.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        tokenizer_path: str | os.PathLike | None = None,
        *,
        model_id: str | None = None,
        name: str | None = None,
        threads: int | None = 1,
        max_tokens: int = 128,
        batch_size: int = 1,
    ):
        if max_tokens < 2:
            raise InvalidInputError(f"max_tokens must be at least 2, not {max_tokens}.")
        model_spec = registry.get_spec(name) if name else registry.default_spec("embedder")
        if model_spec.role != "embedder":
            raise InvalidInputError(f"{name!r} is a {model_spec.role} model, not an embedder.")
        tok_spec = registry.default_spec("tokenizer")
        self.model_path = model_store.resolve(model_spec, model_path)
        self.tokenizer_path = model_store.resolve(tok_spec, tokenizer_path)
        self.id = model_id or model_store.default_id(model_spec, self.model_path)
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer(self.tokenizer_path, max_tokens)
        if self.model_path.suffix == ".npy":
            self._encoder = StaticTable(self.model_path, self.tokenizer.get_vocab_size())
        else:
            self._encoder = OnnxEncoder(self.model_path, threads, pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        self.dim = self._encoder.dim

    def __repr__(self) -> str:
        return f"Embedder(id={self.id!r}, dim={self.dim}, max_tokens={self.max_tokens})"

    def pooled(self, ids: list[list[int]]) -> np.ndarray:
        """Unnormalised sentence vectors of tokenised texts, ``float32[len(ids), dim]``."""
        return self._encoder.pooled(ids)

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        return _normalised(self.pooled(ids))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` as ``float32[len(texts), dim]``."""
        if isinstance(texts, str):
            raise InvalidInputError("embed() takes a list of strings; use embed_one() for a single text.")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        _check_texts(texts)
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out.append(self._run([enc.ids for enc in self.tokenizer.encode_batch(list(batch))]))
        return np.concatenate(out, axis=0)

    @property
    def has_token_states(self) -> bool:
        """Whether this embedder is a contextual encoder (a static table has no per-token states)."""
        return isinstance(self._encoder, OnnxEncoder)

    def embed_one(self, text: str, *, keep_states: bool = False) -> EmbeddedQuery:
        """One text's embedding with its token count, truncation flag and timings; with ``keep_states`` (an ONNX
        encoder only), also the token states of the same pass."""
        _check_texts([text])
        if keep_states and not self.has_token_states:
            raise InvalidInputError(f"{self.id} is a static token table: it has no token states; use an ONNX "
                                    "encoder.")
        t0 = time.perf_counter()
        encoding = self.tokenizer.encode(text)
        t1 = time.perf_counter()
        states = None
        if keep_states:
            hidden = self._encoder.hidden([encoding.ids])[0]
            states = TokenStates(hidden, encoding)
            vector = _normalised(hidden.mean(axis=0, keepdims=True))[0]
        else:
            vector = self._run([encoding.ids])[0]
        t2 = time.perf_counter()
        return EmbeddedQuery(
            vector=vector,
            n_tokens=len(encoding.ids),
            truncated=bool(encoding.overflowing),
            tokenize_ms=(t1 - t0) * 1e3,
            embed_ms=(t2 - t1) * 1e3,
            states=states,
        )

    def token_states(self, text: str, *, first: TokenStates | None = None) -> list[TokenStates]:
        """The token states of all of ``text``: one pass per window of ``max_tokens`` tokens; ``first``, the first
        window's from a pass already made (``embed_one(text, keep_states=True)``), is reused."""
        if not self.has_token_states:
            raise InvalidInputError(f"{self.id} is a static token table: it has no token states; use an ONNX "
                                    "encoder.")
        _check_texts([text])
        if first is None:
            encoding = self.tokenizer.encode(text)
            first = TokenStates(self._encoder.hidden([encoding.ids])[0], encoding)
        return [first, *(TokenStates(self._encoder.hidden([enc.ids])[0], enc) for enc in first.encoding.overflowing)]


class OnnxEncoder:
    """A BERT-style ONNX encoder (inputs ``input_ids``, ``attention_mask``), mean-pooled over real tokens."""

    def __init__(self, path: Path, threads: int | None, *, pad_id: int):
        self.path = path
        self._pad_id = pad_id
        self._session = create_session(path, threads=threads)
        self._input_names = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._input_names:
            raise CorruptModelError(
                f"{path} is not a BERT-style encoder: its inputs are {sorted(self._input_names)}, "
                "expected input_ids and attention_mask (and optionally token_type_ids)."
            )
        output = self._session.get_outputs()[0]
        self._output_name = output.name
        width = output.shape[-1]
        self.dim = width if isinstance(width, int) else int(self.pooled([[0]]).shape[1])

    def pooled(self, ids: list[list[int]]) -> np.ndarray:
        hidden, mask = self._forward(ids)
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def hidden(self, ids: list[list[int]]) -> list[np.ndarray]:
        """The last hidden state of each text's real tokens, ``float32[tokens, dim]`` each."""
        hidden, _ = self._forward(ids)
        return [hidden[row, : len(seq)] for row, seq in enumerate(ids)]

    def _forward(self, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        longest = max(len(x) for x in ids)
        input_ids = np.full((len(ids), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return self._session.run([self._output_name], feeds)[0], mask


def _normalised(pooled: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, ``float32``."""
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _check_texts(texts: Sequence[str]) -> None:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"text {i} is a {type(text).__name__}, not a string.")


def load_tokenizer(path: Path, max_tokens: int):
    """A ``tokenizers.Tokenizer`` from ``path`` that truncates at ``max_tokens`` and never pads."""
    tokenizers = require("tokenizers", "tokenizers")
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for bad files
        raise CorruptModelError(f"{path} is not a valid tokenizer.json ({exc}); pull it again.") from exc
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer
