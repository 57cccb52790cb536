"""LLM-as-a-judge score (arXiv 2502.11021): a judge model picks the best of the routers' answers.

At each router's operating point a query is answered by the strong or the weak model. For every query
the distinct answers are shown to the judge (any OpenAI-compatible endpoint) in a fixed order, and the
routers that gave the picked answer share the pick; score(i) = 100 · picks(i) / queries. Queries where
every router gave the same answer need no call. A reply the judge does not number is counted as no pick
and reported.
"""

from __future__ import annotations

import re

import numpy as np

from ..backends.cloud_llm import CloudLLM
from ..data.eval_data import EvalSet
from ..errors import InvalidInputError
from .quality import judge_scores

PROMPT = (
    "You are judging answers to a user's question. Pick the single best answer: the most correct and "
    "helpful one. Reply with its number only.\n\n[Question]\n{question}\n\n{answers}\n\nBest answer number:"
)
_NUMBER = re.compile(r"\d+")


def judge(eval_set: EvalSet, masks: dict[str, np.ndarray], client: CloudLLM, *, limit: int | None = None) -> dict:
    """Judge scores of the routers in ``masks`` (True: that query goes to the strong model)."""
    if any(text is None for text in eval_set.strong_texts + eval_set.weak_texts):
        raise InvalidInputError(f"{eval_set.benchmark} has no recorded answer texts to judge.")
    names = list(masks)
    picks: list[set[str]] = []
    calls = unparsed = 0
    for q in range(len(eval_set) if limit is None else min(limit, len(eval_set))):
        answers: dict[str, list[str]] = {}
        for name in names:
            text = eval_set.strong_texts[q] if masks[name][q] else eval_set.weak_texts[q]
            answers.setdefault(text, []).append(name)
        if len(answers) == 1:
            picks.append(set(names))
            continue
        texts = list(answers)
        listing = "\n\n".join(f"[Answer {i + 1}]\n{t}" for i, t in enumerate(texts))
        reply = client.chat(PROMPT.format(question=eval_set.prompts[q], answers=listing), max_tokens=8,
                            temperature=0.0).text
        calls += 1
        match = _NUMBER.search(reply)
        choice = int(match.group()) - 1 if match else -1
        if 0 <= choice < len(texts):
            picks.append(set(answers[texts[choice]]))
        else:
            unparsed += 1
            picks.append(set())
    return {"scores": judge_scores(picks, names), "queries": len(picks), "judge_calls": calls,
            "unparsed_replies": unparsed, "judge_model": client.model}
