"""Semantic-entropy clustering by bidirectional entailment (Kuhn et al. 2023; Farquhar et al. 2024).

Two answers mean the same when, in ``strict`` mode, each entails the other; in non-strict mode when
neither contradicts the other and they are not neutral both ways (Farquhar et al.'s reference
implementation). ``condition_on_question`` prefixes each answer with the question. All pairs of one
``cluster`` call are classified in one batch, each distinct pair once.

Two classifiers:

- ``EntailmentClusterer``: an ONNX NLI cross-encoder over ``[CLS] premise [SEP] hypothesis [SEP]``;
  by default the int8 MiniLM-L6 model this project trains and ships (``models/nli/``).
- ``EmbeddingNLIClusterer``: a small ONNX classifier on the runtime embedder's sentence vectors
  (features u, v, |u − v|, u ⊙ v); nearly free when the answers are embedded anyway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..backends.embedder import Embedder, load_tokenizer
from ..defaults import CLUSTERERS
from ..errors import ConfigurationError, CorruptModelError
from ..files import model_store, registry
from ..files.onnx_session import create_session
from .clustering import Clusterer, EmbeddingClusterer, ExactMatchClusterer, greedy_clusters

NLI_LABELS = ("entailment", "neutral", "contradiction")
CROSS_ENCODER = "nli-minilm-l6-int8"
CROSS_ENCODER_TOKENIZER = "all-minilm-l6-v2-tokenizer"  # byte-identical to the base model's
FEATURE_CLASSIFIER = "nli-embedding-features"


class _Bidirectional:
    name = "nli"

    def __init__(self, *, strict: bool, condition_on_question: bool):
        self.strict = strict
        self.condition_on_question = condition_on_question

    def entailment_labels(self, pairs: list[tuple[str, str]]) -> list[str]:
        raise NotImplementedError

    def cluster(self, answers: Sequence[str], question: str | None = None) -> list[int]:
        texts = [f"{question} {a}" if (self.condition_on_question and question) else a for a in answers]
        wanted = dict.fromkeys((a, b) for a in texts for b in texts if a != b)
        labels = dict(zip(wanted, self.entailment_labels(list(wanted))))

        def same(i: int, j: int) -> bool:
            if texts[i] == texts[j]:
                return True
            forward, backward = labels[(texts[i], texts[j])], labels[(texts[j], texts[i])]
            if self.strict:
                return forward == backward == "entailment"
            return "contradiction" not in (forward, backward) and not (forward == backward == "neutral")

        return greedy_clusters(len(texts), same)

    def _labels_from_logits(self, logits: np.ndarray) -> list[str]:
        columns = [self.label_map[label] for label in NLI_LABELS]
        return [NLI_LABELS[b] for b in np.asarray(logits)[:, columns].argmax(axis=1)]


class EntailmentClusterer(_Bidirectional):
    """Bidirectional entailment with an ONNX NLI cross-encoder (default: the shipped int8 MiniLM-L6).

    The model takes ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if it declares them) and
    returns logits ``[batch, 3]``. ``label_map`` maps the three labels to logit columns; when omitted
    it is read from the model's metadata. A model that records its tokenizer's sha256 or vocabulary
    size is refused with a tokenizer that does not match.
    """

    name = "nli"

    def __init__(self, model_path: str | os.PathLike | None = None, tokenizer_path: str | os.PathLike | None = None,
                 label_map: dict[str, int] | None = None, *, strict: bool = True,
                 condition_on_question: bool = False, max_tokens: int = 128, threads: int | None = 1):
        super().__init__(strict=strict, condition_on_question=condition_on_question)
        self.model_path = _resolve(CROSS_ENCODER, model_path)
        self.tokenizer_path = _resolve(CROSS_ENCODER_TOKENIZER, tokenizer_path)
        self._session = create_session(self.model_path, threads=threads)
        self._tokenizer = load_tokenizer(self.tokenizer_path, max_tokens)
        self._input_names = {i.name for i in self._session.get_inputs()}
        meta = self._session.get_modelmeta().custom_metadata_map
        self.label_map = _check_label_map(label_map, meta, self._session, self.model_path)
        _check_tokenizer(meta, self._tokenizer, Path(self.tokenizer_path), self.model_path)

    def entailment_labels(self, pairs: list[tuple[str, str]]) -> list[str]:
        """The NLI label of each (premise, hypothesis) pair, in one batch."""
        if not pairs:
            return []
        encodings = self._tokenizer.encode_batch(pairs)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(pairs), longest), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = enc.ids, enc.type_ids, 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = types
        return self._labels_from_logits(self._session.run(None, feeds)[0])


class EmbeddingNLIClusterer(_Bidirectional):
    """Bidirectional entailment from sentence embeddings: an ONNX classifier over (u, v).

    The model takes ``premise`` and ``hypothesis`` vectors ``[batch, dim]`` of ``embedder`` and returns
    logits ``[batch, 3]``; it records the embedder id it was trained on and is refused with another.
    Without ``embedder`` it loads the registered embedder it was trained on.
    """

    name = "nli-embedding"

    def __init__(self, embedder: Embedder | None = None, model_path: str | os.PathLike | None = None, *,
                 strict: bool = True, condition_on_question: bool = False, threads: int | None = 1):
        super().__init__(strict=strict, condition_on_question=condition_on_question)
        self.model_path = _resolve(FEATURE_CLASSIFIER, model_path)
        self._session = create_session(self.model_path, threads=threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.label_map = _check_label_map(None, meta, self._session, self.model_path)
        trained_on = meta.get("embedder_id")
        self.embedder = embedder if embedder is not None else Embedder(name=trained_on)
        if trained_on != self.embedder.id:
            raise CorruptModelError(
                f"{self.model_path} was trained on embedder {trained_on!r}, not {self.embedder.id!r}; "
                f"use Embedder(name={trained_on!r}) or retrain it (models/nli/build_features.py).")

    def entailment_labels(self, pairs: list[tuple[str, str]]) -> list[str]:
        if not pairs:
            return []
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        vectors = dict(zip(texts, self.embedder.embed([t if t.strip() else "(no answer)" for t in texts])))
        premise = np.stack([vectors[p] for p, _ in pairs]).astype(np.float32)
        hypothesis = np.stack([vectors[h] for _, h in pairs]).astype(np.float32)
        logits = self._session.run(None, {"premise": premise, "hypothesis": hypothesis})[0]
        return self._labels_from_logits(logits)


def _resolve(name: str, path: str | os.PathLike | None) -> Path:
    """An existing explicit file as given; otherwise the registry's file (which explains what is missing)."""
    if path is not None and Path(path).expanduser().is_file():
        return Path(path).expanduser()
    return model_store.resolve(registry.get_spec(name), path)


def _check_tokenizer(meta: dict, tokenizer, tokenizer_path: Path, model_path: Path) -> None:
    declared_vocab = meta.get("vocab_size")
    if declared_vocab is not None and int(declared_vocab) != tokenizer.get_vocab_size():
        raise CorruptModelError(
            f"The tokenizer has {tokenizer.get_vocab_size()} tokens but {model_path} was built for "
            f"{declared_vocab}; pass the tokenizer.json that belongs to this model."
        )
    declared_sha = meta.get("tokenizer_sha256")
    if declared_sha is not None and declared_sha != model_store.sha256_of(tokenizer_path):
        raise CorruptModelError(
            f"{tokenizer_path} is not the tokenizer {model_path} was trained with (sha256 differs); "
            "pass the tokenizer.json that belongs to this model."
        )


def _check_label_map(given, meta, session, model_path) -> dict[str, int]:
    from_model = json.loads(meta["label_map"]) if "label_map" in meta else None
    if given is None and from_model is None:
        raise CorruptModelError(
            f"{model_path} carries no label_map metadata; pass label_map={{'entailment': i, 'neutral': j, "
            "'contradiction': k}} with the logit column of each label."
        )
    if given is not None and from_model is not None and dict(given) != from_model:
        raise CorruptModelError(
            f"The label map {given} does not match the one stored in {model_path} ({from_model})."
        )
    label_map = dict(given if given is not None else from_model)
    if sorted(label_map) != sorted(NLI_LABELS):
        raise CorruptModelError(
            f"The label map must name exactly {', '.join(NLI_LABELS)}; got {sorted(label_map)}."
        )
    n_out = session.get_outputs()[0].shape[-1]
    columns = list(label_map.values())
    bad = len(set(columns)) != 3 or any(
        not isinstance(c, int) or c < 0 or (isinstance(n_out, int) and c >= n_out) for c in columns
    )
    if bad:
        raise CorruptModelError(
            f"The label map {label_map} does not fit the model's {n_out} output columns; "
            "each label needs its own column index."
        )
    return label_map


def clusterer_named(name: str, embedder: Embedder | None = None) -> Clusterer:
    """The clustering backend called ``name`` (one of ``defaults.CLUSTERERS``); ``embedding`` needs the
    ``embedder``; ``nli-embedding`` loads the embedder its classifier was trained on."""
    if name not in CLUSTERERS:
        raise ConfigurationError(f"the clusterer must be one of {', '.join(CLUSTERERS)}, not {name!r}.")
    if name == "exact":
        return ExactMatchClusterer()
    if name == "nli":
        return EntailmentClusterer()
    if name == "nli-embedding":
        return EmbeddingNLIClusterer()
    if embedder is None:
        raise ConfigurationError(f"the {name!r} clusterer compares sentence embeddings: pass an embedder.")
    return EmbeddingClusterer(embedder)
