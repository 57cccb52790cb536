"""Built-in prompt sets with gold answers, read from the shared data folder.

``EDGE_ROUTER_DATA`` points at the folder (default: ``../shared/data`` from the
current directory). Nothing is bundled or downloaded: when the folder is absent
the loader says so and how to point at it.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from .clustering import NUMBER, fold_text, last_number
from .errors import InvalidInputError, ModelNotFoundError

DATA_ENV = "EDGE_ROUTER_DATA"

DATASETS = {
    "nq-open": "qa/NQ-open.dev.jsonl",
    "triviaqa": "qa/triviaqa_sm_sub.jsonl",
    "mawps": "qa/mawps_test.jsonl",
}


@dataclass(frozen=True)
class Prompt:
    """One question, its gold answers and how to score them (``qa`` or ``math``)."""

    dataset: str
    index: int
    question: str
    answers: tuple[str, ...]
    kind: str


def data_dir() -> Path:
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else Path.cwd().parent / "shared" / "data"


def _row_to_prompt(name: str, index: int, row: dict) -> Prompt:
    if name == "nq-open":
        return Prompt(name, index, row["question"].strip().rstrip("?") + "?", tuple(row["answer"]), "qa")
    if name == "triviaqa":
        question = row["context"].removeprefix("Question:").removesuffix("Answer:").strip()
        return Prompt(name, index, question, tuple({row["answer"], *row["aliases"]}), "qa")
    return Prompt(name, index, row["input"].strip(), (f"{float(row['target']):g}",), "math")


def load(name: str, *, limit: int | None = None, seed: int = 0) -> list[Prompt]:
    """Prompts of a built-in set, shuffled with ``seed`` and cut to ``limit``."""
    if name not in DATASETS:
        raise ModelNotFoundError(f"Unknown dataset {name!r}; built-in sets: {', '.join(DATASETS)}.")
    path = data_dir() / DATASETS[name]
    if not path.is_file():
        raise ModelNotFoundError(
            f"{path} does not exist. Set {DATA_ENV} to the shared data folder (the one with qa/ inside)."
        )
    with open(path, encoding="utf-8") as fh:
        prompts = [_row_to_prompt(name, i, json.loads(line)) for i, line in enumerate(fh) if line.strip()]
    return _shuffled(prompts, limit=limit, seed=seed)


def load_jsonl(path: str | Path, *, limit: int | None = None, seed: int = 0) -> list[Prompt]:
    """Prompts from a JSONL file: each row has ``prompt`` (or ``question``) and optionally ``answers``.

    Answers that are all numbers are scored as math, others as short-answer QA.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"Prompt file {path} does not exist.")
    prompts = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            row = json.loads(line)
            text = row.get("prompt", row.get("question"))
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"{path} line {i + 1}: each row needs a non-empty 'prompt' string.")
            answers = tuple(str(a) for a in row.get("answers", ()))
            kind = "math" if answers and all(NUMBER.fullmatch(a.strip()) for a in answers) else "qa"
            prompts.append(Prompt(path.stem, i, text.strip(), answers, kind))
    return _shuffled(prompts, limit=limit, seed=seed)


def _shuffled(prompts: list[Prompt], *, limit: int | None, seed: int) -> list[Prompt]:
    random.Random(seed).shuffle(prompts)
    return prompts[:limit] if limit is not None else prompts


def is_correct(answer: str, prompt: Prompt) -> bool:
    """Math: the answer's last number equals the target. QA: a normalised gold alias occurs in the answer."""
    if prompt.kind == "math":
        number = last_number(answer)
        return number is not None and abs(number - float(prompt.answers[0])) < 1e-6
    folded = f" {fold_text(answer)} "
    for gold in prompt.answers:
        key = fold_text(gold)
        if key and f" {key} " in folded:
            return True
    return False
