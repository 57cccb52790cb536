"""The local model's greedy answers to benchmark questions, scored against the gold answers.

One JSONL row per question and model (dataset, index, subject, model, answer, correct, tokens, time, the first
tokens' statistics), made by
``benchmarks/local_models.py`` and shipped compressed as ``models/eval/outcomes/<model>.jsonl.gz``; the
evaluation's local pairs read them.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from ..backends.completions import Completion
from ..backends.local_llm import LocalLLM
from ..backends.token_stats import as_lists
from .datasets import Prompt, is_correct
from .resumable import read_rows

# Measured on 20 GSM8K test questions outside the evaluated 400 (Qwen2.5-Coder-0.5B): this math system prompt
# got 8/20 right against 3/20 for "end with the final number" in the user turn (fewer code blocks); answers
# take a median 272 tokens and 2 of 20 reached 512. A letter needs a few tokens.
SYSTEM = {
    "math": "Solve the problem step by step in plain words, without writing code. "
            "End with the line: The answer is <number>.",
    "choice": "Reply with the letter of the correct option only: A, B, C or D.",
}
MAX_TOKENS = {"math": 512, "choice": 8}
# Answers decoded together (LocalLLM.answer_many), measured on two cores: GSM8K with Qwen2.5-Coder-0.5B 36 tokens/s
# with 4, 35 with 8, about 26 one at a time (16 questions); with the 1.5B 17.3 with 4, 14.0 alone (8 and 4
# questions); MMLU's one-letter answers are all prefill, 1.18 s each alone against 1.48 s with 8 (0.5B, 16
# questions): every token attends over every sequence's cells, which costs more than the batch saves.
SLOTS = {"math": 4, "choice": 1}
STATS_TOKENS = 32  # the first tokens' log-probabilities and entropies are kept: what the answer check reads


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
    return {row_key(row["dataset"], row["index"]): row for row in read_rows(path)}


def messages_for(prompt: Prompt) -> list[dict]:
    """The chat a benchmark question is asked as: the kind's system prompt, then the question."""
    return [{"role": "system", "content": SYSTEM[prompt.kind]}, {"role": "user", "content": prompt.question}]


def _row(llm: LocalLLM, prompt: Prompt, completion: Completion, ms: float, slots: int) -> dict:
    logprobs, entropies = as_lists(completion.token_stats)
    return {"dataset": prompt.dataset, "index": prompt.index, "subject": prompt.group, "model": llm.id,
            "answer": completion.text, "correct": is_correct(completion.text, prompt),
            "finish_reason": completion.finish_reason, "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens, "ms": round(ms, 1), "slots": slots,
            "logprobs": logprobs, "entropies": entropies}


def paired_tasks(prompts: Sequence[Prompt], model_ids: Sequence[str], done: dict[str, dict], *,
                 chunk: int = 128) -> list[tuple[str, str, list[Prompt]]]:
    """(model id, kind, prompts) groups in the order the job answers them: ``chunk`` prompts at a time, each
    model the whole chunk in turn (so a stopped run leaves paired rows), one group per kind; rows already in
    ``done[model id]`` left out."""
    tasks = []
    for start in range(0, len(prompts), chunk):
        for model_id in model_ids:
            todo = [p for p in prompts[start:start + chunk] if row_key(p.dataset, p.index) not in done[model_id]]
            tasks += [(model_id, kind, [p for p in todo if p.kind == kind]) for kind in sorted({p.kind for p in todo})]
    return tasks


def answer_group(model: LocalLLM, kind: str, group: Sequence[Prompt]) -> list[dict]:
    """``model``'s rows for ``group`` (one kind), ``SLOTS`` answers decoded together (``LocalLLM.answer_many``);
    a row's ``ms`` is the group's time per answer, its ``logprobs`` and ``entropies`` those of its first
    ``STATS_TOKENS`` tokens, taken while decoding."""
    started = time.perf_counter()
    completions = model.answer_many([messages_for(p) for p in group], max_tokens=MAX_TOKENS[kind],
                                    slots=SLOTS[kind], stats=STATS_TOKENS)
    ms = (time.perf_counter() - started) * 1e3 / len(group)
    return [_row(model, p, c, ms, SLOTS[kind]) for p, c in zip(group, completions)]


def answer_paired(prompts: Sequence[Prompt], models: Sequence[LocalLLM], work: dict[str, Path], *,
                  chunk: int = 128, log=None) -> int:
    """Every model answers every prompt (``paired_tasks``, ``answer_group``), appending to its work file
    ``work[model.id]`` and skipping what is already there. Returns answers made."""
    by_id = {m.id: m for m in models}
    tasks = paired_tasks(prompts, list(by_id), {m.id: read_outcomes(work[m.id]) for m in models}, chunk=chunk)
    started, answered = time.perf_counter(), 0
    with AppendFiles(work) as outs:
        for model_id, kind, group in tasks:
            answered += outs.write(model_id, answer_group(by_id[model_id], kind, group))
            if log is not None:
                log(f"{answered} answers: {answered / max(time.perf_counter() - started, 1e-9) * 60:.1f} a minute")
    return answered


class AppendFiles:
    """Each model's work file, open for appending; ``write`` adds rows and flushes."""

    def __init__(self, work: dict[str, Path]):
        self.work, self.outs = work, {}

    def __enter__(self) -> AppendFiles:
        for model_id, path in self.work.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            self.outs[model_id] = open(path, "a", encoding="utf-8")
        return self

    def write(self, model_id: str, rows: list[dict]) -> int:
        self.outs[model_id].writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        self.outs[model_id].flush()
        return len(rows)

    def __exit__(self, *exc: object) -> None:
        for out in self.outs.values():
            out.close()
