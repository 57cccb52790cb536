"""Cluster sampled answers by meaning; semantic entropy is computed over the clusters.

Three backends share one interface, ``cluster(answers, question=None) -> ids``:

- ``ExactMatchClusterer``: answers mean the same when their normalised form is
  equal (option letter, else last number, else case/punctuation/article folding).
  Right for short answers and math.
- ``EmbeddingClusterer``: cosine similarity of sentence embeddings at or above a
  threshold (default 0.85: paraphrases of one short answer score above it with
  all-MiniLM-L6-v2, different entities mostly below).
- ``EntailmentClusterer``: bidirectional entailment with an ONNX NLI
  cross-encoder. No usable NLI model is on the package index today, so none is
  shipped by default; the tests build a small one to exercise this backend.

All three assign clusters greedily as Kuhn et al. (2023) do: each answer joins
the first cluster whose first member means the same, else starts a new one.
"""

from __future__ import annotations

import json
import os
import re
import string
from typing import Callable, Protocol, Sequence

import numpy as np

from .embedder import Embedder, load_tokenizer
from .errors import CorruptModelError, InvalidInputError
from .onnx_session import create_session

NLI_LABELS = ("entailment", "neutral", "contradiction")


class Clusterer(Protocol):
    name: str

    def cluster(self, answers: Sequence[str], question: str | None = None) -> list[int]:
        """A cluster id per answer; ids are 0, 1, ... in order of first appearance."""
        ...


def greedy_clusters(n: int, same: Callable[[int, int], bool]) -> list[int]:
    """Cluster ids for ``n`` items, comparing each with the first member of each cluster."""
    ids: list[int] = []
    representatives: list[int] = []
    for i in range(n):
        for cluster_id, rep in enumerate(representatives):
            if same(rep, i):
                ids.append(cluster_id)
                break
        else:
            ids.append(len(representatives))
            representatives.append(i)
    return ids


_LETTER_ALONE = re.compile(r"^\s*\(?([A-J])\)?[.:)]?\s*$")
_LETTER_LEAD = re.compile(r"^\s*(?:\(([A-J])\)|([A-J])[.):])\s")
_LETTER_STATED = re.compile(r"answer(?: is)?\s*:?\s*\(?([A-J])\)?(?![A-Za-z])", re.IGNORECASE)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """The key under which two answers count as equal.

    ``letter:B`` for a multiple-choice option, ``number:42`` for the last number
    in the answer (commas dropped, ``3.50`` == ``3.5``), else the text lowercased
    without punctuation, articles and extra spaces.
    """
    for pattern in (_LETTER_ALONE, _LETTER_LEAD, _LETTER_STATED):
        match = pattern.search(text)
        if match:
            return "letter:" + next(g for g in match.groups() if g).upper()
    number = last_number(text)
    if number is not None:
        return f"number:{number:g}"
    return "text:" + fold_text(text)


def last_number(text: str) -> float | None:
    """The last number in ``text`` (commas dropped), or None."""
    numbers = NUMBER.findall(text)
    if not numbers:
        return None
    try:
        return float(numbers[-1].replace(",", ""))
    except ValueError:
        return None


def fold_text(text: str) -> str:
    """Lowercase, without punctuation, articles (a, an, the) and repeated spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


class ExactMatchClusterer:
    """Answers are equal when ``normalize_answer`` gives the same key."""

    name = "exact"

    def cluster(self, answers: Sequence[str], question: str | None = None) -> list[int]:
        keys = [normalize_answer(a) for a in answers]
        return greedy_clusters(len(keys), lambda i, j: keys[i] == keys[j])


class EmbeddingClusterer:
    """Answers are equal when their embeddings' cosine similarity is at least ``threshold``."""

    name = "embedding"

    def __init__(self, embedder: Embedder, threshold: float = 0.85):
        if not -1.0 <= threshold <= 1.0:
            raise InvalidInputError(f"threshold is a cosine similarity in [-1, 1], not {threshold}.")
        self.embedder = embedder
        self.threshold = threshold

    def cluster(self, answers: Sequence[str], question: str | None = None) -> list[int]:
        if not answers:
            return []
        vectors = self.embedder.embed([a if a.strip() else "(no answer)" for a in answers])
        sims = vectors @ vectors.T
        return greedy_clusters(len(answers), lambda i, j: bool(sims[i, j] >= self.threshold))


class EntailmentClusterer:
    """Bidirectional entailment with an ONNX NLI cross-encoder.

    The model takes ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if
    it declares them) for ``[CLS] premise [SEP] hypothesis [SEP]`` and returns
    logits ``[batch, n_labels]``. ``label_map`` maps ``entailment``, ``neutral``
    and ``contradiction`` to logit columns; when omitted it is read from the
    model's ``label_map`` metadata. ``strict`` means both directions entail;
    non-strict means neither direction contradicts and not both are neutral
    (Farquhar et al.'s reference implementation). ``condition_on_question``
    prefixes each answer with the question.
    """

    name = "nli"

    def __init__(
        self,
        model_path: str | os.PathLike,
        tokenizer_path: str | os.PathLike,
        label_map: dict[str, int] | None = None,
        *,
        strict: bool = True,
        condition_on_question: bool = False,
        max_tokens: int = 256,
        threads: int | None = 1,
    ):
        self.strict = strict
        self.condition_on_question = condition_on_question
        self._session = create_session(model_path, threads=threads)
        self._tokenizer = load_tokenizer(tokenizer_path, max_tokens)
        self._input_names = {i.name for i in self._session.get_inputs()}
        meta = self._session.get_modelmeta().custom_metadata_map
        self.label_map = _check_label_map(label_map, meta, self._session, model_path)
        declared_vocab = meta.get("vocab_size")
        if declared_vocab is not None and int(declared_vocab) != self._tokenizer.get_vocab_size():
            raise CorruptModelError(
                f"The tokenizer has {self._tokenizer.get_vocab_size()} tokens but {model_path} was built for "
                f"{declared_vocab}; pass the tokenizer.json that belongs to this model."
            )

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
        logits = self._session.run(None, feeds)[0]
        columns = [self.label_map[label] for label in NLI_LABELS]
        best = np.asarray(logits)[:, columns].argmax(axis=1)
        return [NLI_LABELS[b] for b in best]

    def cluster(self, answers: Sequence[str], question: str | None = None) -> list[int]:
        n = len(answers)
        if n == 0:
            return []
        texts = [
            f"{question} {a}" if (self.condition_on_question and question) else a for a in answers
        ]
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j and texts[i] != texts[j]]
        labels = dict(zip(pairs, self.entailment_labels([(texts[i], texts[j]) for i, j in pairs])))

        def same(i: int, j: int) -> bool:
            if texts[i] == texts[j]:
                return True
            forward, backward = labels[(i, j)], labels[(j, i)]
            if self.strict:
                return forward == backward == "entailment"
            return "contradiction" not in (forward, backward) and not (forward == backward == "neutral")

        return greedy_clusters(n, same)


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
