"""Benchmark prompts of a given length in embedder tokens, cut from real questions.

Questions from GSM8K and NQ-open (the shared data folder) are joined one after
another until the text is long enough, then cut to exactly N tokens of the
embedder's tokenizer ([CLS] and [SEP] included) and decoded back to text. When
the shared data folder is absent, a small built-in set of questions is used and
the report says so.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..backends.embedder import load_tokenizer
from ..data.datasets import data_dir

BUILT_IN = [
    "What is the capital of France?",
    "A train travels at 60 km/h for 3 hours and then at 40 km/h for 2 hours. How far does it go in total?",
    "Who wrote the novel Pride and Prejudice, and in which year was it first published?",
    "Explain why the sky looks blue during the day but red and orange at sunset.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Which planet in our solar system has the most moons, and roughly how many have been confirmed?",
    "Write a short poem about a lighthouse keeper who waits for a ship that never comes.",
    "If a shirt costs $25 after a 20% discount, what was the original price of the shirt?",
]


@lru_cache(maxsize=1)
def _questions() -> tuple[list[str], str]:
    root = data_dir()
    gsm8k, nq = root / "gsm8k" / "test.jsonl", root / "qa" / "NQ-open.dev.jsonl"
    if not (gsm8k.is_file() and nq.is_file()):
        return BUILT_IN, "built-in questions (shared data folder absent)"
    out = []
    with open(gsm8k, encoding="utf-8") as g, open(nq, encoding="utf-8") as n:
        for g_line, n_line in zip(g, n):
            out.append(json.loads(n_line)["question"].strip().capitalize() + "?")
            out.append(json.loads(g_line)["question"].strip())
            if len(out) >= 400:
                break
    return out, "GSM8K test and NQ-open dev questions (shared data), joined and cut to length"


def sample_questions(n: int) -> list[str]:
    """Up to ``n`` whole questions from the same source, for embedding-agreement checks."""
    return _questions()[0][:n]


def make_prompts(tokenizer_path: Path, lengths: list[int], per_length: int) -> tuple[dict[int, list[str]], str]:
    """``per_length`` prompts of each length (in embedder tokens) and a description of their source."""
    tokenizer = load_tokenizer(tokenizer_path, max_tokens=100_000)
    questions, source = _questions()
    prompts: dict[int, list[str]] = {}
    for n in lengths:
        prompts[n] = []
        for i in range(per_length):
            ids: list[int] = []
            j = i * 7
            while len(ids) < n - 2:
                ids += tokenizer.encode(questions[j % len(questions)], add_special_tokens=False).ids
                j += 1
            prompts[n].append(tokenizer.decode(ids[: n - 2]))
    return prompts, source
