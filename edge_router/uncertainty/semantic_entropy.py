"""Semantic entropy (Kuhn et al. 2023; Farquhar et al. 2024), alone and as an online gate.

Sample k answers, cluster them by meaning, and take the entropy over clusters:

- from cluster counts: ``-sum(p log p)`` with ``p`` = share of samples in a cluster;
- weighted by likelihood: each cluster's probability is the normalised sum of its
  samples' length-normalised sequence likelihoods (Farquhar et al.'s reference).

High entropy means the model says different things each time: it is unsure.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import defaults
from ..backends.chat_model import ChatModel
from ..backends.completions import Sample
from ..backends.messages import Messages, normalize, routing_text
from ..errors import InvalidInputError
from .clustering import Clusterer

SHORT_ANSWER = "Answer with a short phrase only: a name, a date, a number or a few words."
"""The instruction semantic-entropy samples are drawn under (the gate's, and the labels' for questions)."""


def with_instruction(messages: Messages, instruction: str | None) -> Messages:
    """``messages`` with ``instruction`` added to the first system (or developer) message, or as a new first
    system message when there is none."""
    if not instruction:
        return messages
    for i, message in enumerate(messages):
        if message["role"] in ("system", "developer"):
            return [*messages[:i], {**message, "content": f"{message['content']}\n\n{instruction}"},
                    *messages[i + 1:]]
    return [{"role": "system", "content": instruction}, *messages]


def cluster_entropy(cluster_ids: Sequence[int]) -> float:
    """Entropy (nats) of the empirical cluster distribution."""
    if not cluster_ids:
        raise InvalidInputError("semantic entropy needs at least one sample.")
    n = len(cluster_ids)
    return float(-sum((c / n) * math.log(c / n) for c in Counter(cluster_ids).values())) + 0.0  # never -0.0


def likelihood_entropy(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """Entropy (nats) of cluster probabilities from sequence log-likelihoods."""
    if len(cluster_ids) != len(log_likelihoods) or not cluster_ids:
        raise InvalidInputError("need one log-likelihood per sample, and at least one sample.")
    ids = np.asarray(cluster_ids)
    lls = np.asarray(log_likelihoods, dtype=np.float64)
    per_cluster = np.array([np.logaddexp.reduce(lls[ids == c]) for c in np.unique(ids)])
    log_p = per_cluster - np.logaddexp.reduce(per_cluster)
    return float(-(np.exp(log_p) * log_p).sum())


def entropies_of(clusterer: Clusterer, answers: Sequence[str], mean_logprobs: Sequence[float],
                 question: str | None = None) -> tuple[list[int], float, float, float]:
    """Cluster already drawn answers: their cluster ids, count SE, likelihood SE and the clustering time (ms)."""
    t0 = time.perf_counter()
    ids = clusterer.cluster(answers, question=question)
    ms = (time.perf_counter() - t0) * 1e3
    return ids, cluster_entropy(ids), likelihood_entropy(ids, mean_logprobs), ms


@dataclass(frozen=True)
class SemanticEntropy:
    """The samples, their clusters, both entropies and what it cost."""

    samples: tuple[Sample, ...]
    cluster_ids: tuple[int, ...]
    entropy: float
    likelihood_entropy: float
    clusterer: str
    sample_ms: float
    cluster_ms: float

    @property
    def n_clusters(self) -> int:
        return len(set(self.cluster_ids))


def semantic_entropy(
    llm: ChatModel,
    messages: Messages | str,
    clusterer: Clusterer,
    *,
    k: int = 5,
    temperature: float = 1.0,
    max_tokens: int = 64,
) -> SemanticEntropy:
    """Sample ``k`` answers from ``llm`` (local or cloud) and measure their semantic entropy."""
    messages = normalize(messages)
    t0 = time.perf_counter()
    samples = llm.sample(messages, k, temperature=temperature, max_tokens=max_tokens)
    t1 = time.perf_counter()
    ids = clusterer.cluster([s.text for s in samples], question=routing_text(messages))
    t2 = time.perf_counter()
    return SemanticEntropy(
        samples=tuple(samples),
        cluster_ids=tuple(ids),
        entropy=cluster_entropy(ids),
        likelihood_entropy=likelihood_entropy(ids, [s.mean_logprob for s in samples]),
        clusterer=clusterer.name,
        sample_ms=(t1 - t0) * 1e3,
        cluster_ms=(t2 - t1) * 1e3,
    )


@dataclass
class UncertaintyGate:
    """Offload when the local model's semantic entropy is above ``threshold`` (nats).

    ``measure`` is ``"counts"`` or ``"likelihood"``. With k = 5 the count entropy
    runs from 0 (all samples agree) to ln 5 = 1.61 (all differ); the default 1.194
    keeps splits up to 2-2-1 (1.05) local and offloads 2-1-1-1 (1.33) and five
    different answers. The defaults (k, threshold, 16 tokens per sample) were chosen on
    the Qwen pair's label rows (benchmarks/results/gate_calibration.md). The samples are drawn under ``instruction`` (a
    short-answer request; None samples the conversation as it is).
    """

    clusterer: Clusterer
    k: int = defaults.GATE_K
    threshold: float = defaults.GATE_THRESHOLD
    measure: str = "counts"
    max_tokens: int = defaults.GATE_MAX_TOKENS
    temperature: float = 1.0
    instruction: str | None = SHORT_ANSWER

    def __post_init__(self) -> None:
        if self.measure not in ("counts", "likelihood"):
            raise InvalidInputError(f"measure must be 'counts' or 'likelihood', not {self.measure!r}.")
        if self.k < 2:
            raise InvalidInputError(f"the gate needs k >= 2 samples to measure disagreement, not {self.k}.")

    def measure_entropy(self, llm: ChatModel, messages: Messages) -> tuple[float, SemanticEntropy]:
        """The gate's entropy for ``messages`` and the full measurement. The samples are asked for short
        answers (``instruction``), as the label rows the gate is calibrated on were: only their agreement
        matters, and short answers are cheaper and comparable by exact match."""
        se = semantic_entropy(
            llm, with_instruction(messages, self.instruction), self.clusterer, k=self.k,
            temperature=self.temperature, max_tokens=self.max_tokens,
        )
        return (se.entropy if self.measure == "counts" else se.likelihood_entropy), se
