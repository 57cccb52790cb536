"""The local model's greedy answers to benchmark questions, scored against the gold answers.

One JSONL row per question and model (dataset, index, subject, model, answer, correct, tokens, time), made by
``benchmarks/local_models.py`` and shipped compressed as ``models/eval/outcomes/<model>.jsonl.gz``; the
evaluation's local pairs read them.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from ..backends.local_llm import LocalLLM
from .datasets import Prompt, is_correct

# Measured on 20 GSM8K test questions outside the evaluated 400 (Qwen2.5-Coder-0.5B): this math system prompt
# got 8/20 right against 3/20 for "end with the final number" in the user turn (fewer code blocks); answers
# take a median 272 tokens and 2 of 20 reached 512. A letter needs a few tokens.
SYSTEM = {
    "math": "Solve the problem step by step in plain words, without writing code. "
            "End with the line: The answer is <number>.",
    "choice": "Reply with the letter of the correct option only: A, B, C or D.",
}
MAX_TOKENS = {"math": 512, "choice": 8}


def stratified(prompts: Sequence[Prompt], share: float, *, seed: int = 0) -> list[Prompt]:
    """The same share of every group (MMLU subject), rounded up, drawn with ``seed``; in input order."""
    groups: dict[str, list[Prompt]] = defaultdict(list)
    for p in prompts:
        groups[p.group].append(p)
    rng = random.Random(seed)
    keep = set()
    for group in sorted(groups):
        members = groups[group]
        keep.update(id(p) for p in rng.sample(members, math.ceil(share * len(members))))
    return [p for p in prompts if id(p) in keep]


def row_key(dataset: str, index: int) -> str:
    return f"{dataset}/{index}"


def read_outcomes(path: str | Path) -> dict[str, dict]:
    """Rows by ``dataset/index`` from a .jsonl or .jsonl.gz file (a torn last line is skipped)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = {}
    if not path.exists():
        return rows
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[row_key(row["dataset"], row["index"])] = row
    return rows


def messages_for(prompt: Prompt) -> list[dict]:
    """The chat a benchmark question is asked as: the kind's system prompt, then the question."""
    return [{"role": "system", "content": SYSTEM[prompt.kind]}, {"role": "user", "content": prompt.question}]


def answer_row(llm: LocalLLM, prompt: Prompt) -> dict:
    """``llm``'s greedy answer to ``prompt``, scored, with its token counts and time."""
    t0 = time.perf_counter()
    completion = llm.chat(messages_for(prompt), max_tokens=MAX_TOKENS[prompt.kind])
    return {"dataset": prompt.dataset, "index": prompt.index, "subject": prompt.group, "model": llm.id,
            "answer": completion.text, "correct": is_correct(completion.text, prompt),
            "finish_reason": completion.finish_reason, "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens, "ms": round((time.perf_counter() - t0) * 1e3, 1)}


def answer_paired(prompts: Sequence[Prompt], models: Sequence[LocalLLM], work: dict[str, Path], *,
                  log=None) -> int:
    """Every model answers every prompt in turn (question by question, so a stopped run leaves paired rows),
    appending to its work file ``work[model.id]`` and skipping what is already there. Returns answers made."""
    done = {m.id: read_outcomes(work[m.id]) for m in models}
    outs = {}
    for model in models:
        work[model.id].parent.mkdir(parents=True, exist_ok=True)
        outs[model.id] = open(work[model.id], "a", encoding="utf-8")
    started, answered = time.perf_counter(), 0
    try:
        for i, prompt in enumerate(prompts):
            for model in models:
                if row_key(prompt.dataset, prompt.index) not in done[model.id]:
                    outs[model.id].write(json.dumps(answer_row(model, prompt), ensure_ascii=False) + "\n")
                    outs[model.id].flush()
                    answered += 1
            if log is not None and i % 20 == 0:
                log(f"question {i + 1}/{len(prompts)}: {answered / max(time.perf_counter() - started, 1e-9) * 60:.1f}"
                    " answers/minute")
    finally:
        for out in outs.values():
            out.close()
    return answered
