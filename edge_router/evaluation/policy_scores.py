"""The default decision's score for every evaluated question, without running the local model again.

The default policy combines the shipped router's score with the prefill probe's (``routing.policy``). The probe's
score of every GSM8K and MMLU question the local model answered is stored beside the outcomes
(``models/probes/prefill_state.scores.jsonl.gz``, written by ``models/probes/build_state.py``), so evaluating the
policy takes seconds, like evaluating a router file.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from ..data.eval_data import EvalSet
from ..files.shipped import shipped, shipped_policy
from ..routing.policy import CombinationPolicy

SHIPPED_SCORES = "probes/prefill_state.scores.jsonl.gz"


def _stored_rows(path: str | Path | None) -> list[dict]:
    path = Path(path) if path else shipped(SHIPPED_SCORES)
    if path is None or not path.is_file():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def stored_probe_scores(path: str | Path | None = None) -> dict[str, float]:
    """Question key (``dataset/index``) → the shipped probe's score; empty when none ship."""
    return {row["key"]: float(row["score"]) for row in _stored_rows(path)}


def stored_prompt_tokens(path: str | Path | None = None) -> dict[str, int]:
    """Question key → the prompt's length in the local model's tokens (what the probe's prefill reads)."""
    return {row["key"]: int(row["tokens"]) for row in _stored_rows(path) if "tokens" in row}


def default_policy_scores(eval_set: EvalSet, router_scores: np.ndarray) -> tuple[np.ndarray, str]:
    """The default policy's score per question and its name: the router's combined with the stored probe's where
    the policy ships for this pair's local model and every question has a stored score; else the router's."""
    policy_path = shipped_policy()
    if policy_path is None:
        return router_scores, "router"
    policy = CombinationPolicy.load(policy_path)
    stored = stored_probe_scores()
    if eval_set.weak_model != policy.local_model or not all(k in stored for k in eval_set.keys):
        return router_scores, "router"
    combined = [policy.score(float(r), stored[k]) for r, k in zip(router_scores, eval_set.keys)]
    return np.asarray(combined), "router+prefill-probe"
