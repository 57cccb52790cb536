"""Cluster sampled answers by meaning; semantic entropy is computed over the clusters.

The backends share one interface, ``cluster(answers, question=None) -> ids``:

- ``ExactMatchClusterer``: answers mean the same when their normalised form is
  equal (option letter, else last number, else case/punctuation/article folding).
  Right for short answers and math.
- ``EmbeddingClusterer``: cosine similarity of sentence embeddings at or above a
  threshold (default 0.85: paraphrases of one short answer score above it with
  all-MiniLM-L6-v2, different entities mostly below).
- the entailment backends of ``edge_router.uncertainty.entailment``: bidirectional
  entailment with the shipped NLI cross-encoder or the embedding-feature classifier.

All assign clusters greedily as Kuhn et al. (2023) do: each answer joins
the first cluster whose first member means the same, else starts a new one.
"""

from __future__ import annotations

import re
import string
from typing import Callable, Protocol, Sequence

from ..backends.embedder import Embedder
from ..errors import InvalidInputError


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
