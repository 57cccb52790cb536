"""The local model's greedy answers to benchmark questions, scored against the gold answers.

One JSONL row per question (dataset, index, subject, answer, correct, tokens, time), appended as it is
made, so a stopped run resumes where it left off. The evaluation's on-device pair reads these rows.
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

from .datasets import Prompt, is_correct
from .local_llm import LocalLLM
from .resumable import append_rows

INSTRUCTIONS = {
    "math": "\nSolve it step by step and end with the final number.",
    "choice": " (reply with the letter A, B, C or D)",
}


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


def answer_prompts(prompts: Sequence[Prompt], out_path: str | Path, llm: LocalLLM, *,
                   max_tokens: dict[str, int], progress: bool = True) -> dict:
    """Answer every prompt not yet in ``out_path`` greedily and append its scored row."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = read_outcomes(out_path)
    todo = [p for p in prompts if row_key(p.dataset, p.index) not in done]

    def answer(prompt: Prompt) -> dict:
        t0 = time.perf_counter()
        completion = llm.chat(prompt.question + INSTRUCTIONS.get(prompt.kind, ""), max_tokens=max_tokens[prompt.kind])
        return {"dataset": prompt.dataset, "index": prompt.index, "subject": prompt.group,
                "model": llm.id, "answer": completion.text, "correct": is_correct(completion.text, prompt),
                "completion_tokens": completion.usage.completion_tokens if completion.usage else None,
                "ms": round((time.perf_counter() - t0) * 1e3, 1)}

    seconds = append_rows(out_path, todo, answer, label="local answers", unit="questions", progress=progress)
    return {"answered": len(todo), "already_done": len(done), "seconds": seconds}
