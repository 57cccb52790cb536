"""Built-in prompt sets with gold answers, read from the shared data folder.

``EDGE_ROUTER_DATA`` points at the folder (default: ``../shared/data`` from the
current directory). Nothing is bundled or downloaded: when the folder is absent
the loader says so and how to point at it.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import io
import json
import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError, ModelNotFoundError
from ..files.shipped import shipped
from ..settings import DATA_ENV, data_dir
from ..uncertainty.clustering import NUMBER, fold_text, last_number

DATASETS = {
    "nq-open": "qa/NQ-open.dev.jsonl",
    "triviaqa": "qa/triviaqa_sm_sub.jsonl",
    "mawps": "qa/mawps_test.jsonl",
    "gsm8k": "gsm8k/test.jsonl",
    "gsm8k-train": "gsm8k/train.jsonl",
    "mmlu": "mmlu/mmlu.zip",
    "mmlu-aux": "mmlu/mmlu.zip",
    "arc-challenge": "routerbench/arc_challenge_train.csv.gz",
    "winogrande": "routerbench/winograde_train.csv.gz",
}

MMLU_RESPONSES = "routellm_evals/mmlu/responses"
CHOICES = "ABCD"
_CHOICE_PATTERNS = (
    re.compile(r"^\W*\(?([ABCD])(?:[.):,\n]|$)"),
    re.compile(r"[Aa]nswer(?: is)?\W{0,3}\(?([ABCD])\b(?![a-z])"),
    re.compile(r"\b([ABCD])[.):](?:\s|$)"),
)


@dataclass(frozen=True)
class Prompt:
    """One question, its gold answers and how to score them (``qa``, ``math``, ``choice``; ``code`` has none)."""

    dataset: str
    index: int
    question: str
    answers: tuple[str, ...]
    kind: str
    group: str = ""


def _row_to_prompt(name: str, index: int, row: dict) -> Prompt:
    if name == "nq-open":
        return Prompt(name, index, row["question"].strip().rstrip("?") + "?", tuple(row["answer"]), "qa")
    if name == "triviaqa":
        question = row["context"].removeprefix("Question:").removesuffix("Answer:").strip()
        return Prompt(name, index, question, tuple({row["answer"], *row["aliases"]}), "qa")
    if name in ("gsm8k", "gsm8k-train"):
        return Prompt(name, index, row["question"].strip(), (row["answer"].split("####")[-1].strip().replace(",", ""),),
                      "math")
    return Prompt(name, index, row["input"].strip(), (f"{float(row['target']):g}",), "math")


def mmlu_prompt(question: str, options: list[str]) -> str:
    """The question as RouteLLM's evaluation asked it: options A–D, then ``Answer:``."""
    lines = [question.strip(), *(f"{letter}. {option}" for letter, option in zip(CHOICES, options))]
    return "\n".join(lines) + "\nAnswer:"


def _mmlu_rows(zf: zipfile.ZipFile, part: str):
    """(subject, row) for every question of one part (dev, val or test), subjects in sorted order."""
    for member in sorted(n for n in zf.namelist() if n.startswith(f"data/{part}/") and n.endswith(".csv")):
        subject = Path(member).stem.removesuffix(f"_{part}")
        for row in csv.reader(io.StringIO(zf.read(member).decode("utf-8"))):
            yield subject, row


def _mmlu(name: str, root: Path) -> list[Prompt]:
    """MMLU test (``mmlu``, 14,042, RouteLLM's order and prompt texts) or the dev+val questions
    (``mmlu-aux``) without those whose question text also occurs in the test set, so that routers
    trained on ``mmlu-aux`` never see an evaluation question."""
    prompts: list[Prompt] = []
    with zipfile.ZipFile(root / DATASETS[name]) as zf:
        if name == "mmlu":
            texts: dict[str, list[str] | None] = {}
            seen: dict[str, int] = {}
            for subject, row in _mmlu_rows(zf, "test"):
                if subject not in texts:
                    texts[subject] = _routellm_mmlu_prompts(root, subject)
                i = seen[subject] = seen.get(subject, -1) + 1
                text = texts[subject][i] if texts[subject] else mmlu_prompt(row[0], row[1:5])
                prompts.append(Prompt(name, len(prompts), text, (row[5].strip(),), "choice", subject))
            return prompts
        test_questions = {row[0].strip() for _, row in _mmlu_rows(zf, "test")}
        for part in ("dev", "val"):
            for subject, row in _mmlu_rows(zf, part):
                if row[0].strip() not in test_questions:
                    prompts.append(Prompt(name, len(prompts), mmlu_prompt(row[0], row[1:5]), (row[5].strip(),),
                                          "choice", subject))
    return prompts


_SOLVED_EXAMPLE = re.compile(r"Answer:\s*[A-E]\s*\n\n")


def routerbench_rows(path: Path):
    """(question, row) for RouterBench's single-prompt rows; the question is the last one of the few-shot
    prompt, as a user would ask it (the solved examples before it are dropped)."""
    csv.field_size_limit(1 << 30)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts = ast.literal_eval(row["prompt"])
            if len(texts) == 1:
                yield _SOLVED_EXAMPLE.split(texts[0])[-1].strip(), row


def _routerbench(name: str, path: Path) -> list[Prompt]:
    """RouterBench's train rows, zero-shot, with as gold the letter chosen by the records' models that scored
    1 on it. Rows none of them got right (gold unknown) are left out."""
    prompts = []
    for question, row in routerbench_rows(path):
        letters = {chosen_letter(_first(row[f"{m}|model_response"])) for m in scored_models(row)
                   if row[m] == "1.0"}
        letters.discard(None)
        if len(letters) == 1:
            prompts.append(Prompt(name, len(prompts), question, (letters.pop(),), "choice", row["sample_id"]))
    return prompts


ROUTERBENCH_TRAIN = ("arc_challenge_train.csv.gz", "winograde_train.csv.gz", "mbpp_train.csv.gz")


def routerbench_file(name: str) -> Path:
    """A RouterBench file of the shared data folder, or a clear error naming the setting to fix."""
    path = data_dir() / "routerbench" / name
    if not path.is_file():
        raise ModelNotFoundError(f"{path} does not exist. Set {DATA_ENV} to the shared data folder.")
    return path


def routerbench_outcomes(strong: str, weak: str) -> list[dict]:
    """Two models' recorded 0/1 scores on RouterBench's train rows (ARC-Challenge, Winogrande, MBPP):
    ``{"dataset", "sample_id", "question", "strong", "weak"}`` per row, for labels from outcomes."""
    out = []
    for name in ROUTERBENCH_TRAIN:
        path = routerbench_file(name)
        for question, row in routerbench_rows(path):
            if strong not in row or weak not in row:
                raise InvalidInputError(f"{path} has no scores for {strong!r} and {weak!r}; its models are "
                                        f"{', '.join(scored_models(row))}.")
            out.append({"dataset": row["eval_name"], "sample_id": row["sample_id"], "question": question,
                        "strong": float(row[strong]), "weak": float(row[weak])})
    return out


def coding_tasks(*, limit: int | None = None, seed: int = 0) -> list[Prompt]:
    """MBPP's train tasks from RouterBench ("Write a function to …"), kind ``code``: open-ended answers with no
    gold to score, for measuring how the local model writes at length (repetition, length)."""
    prompts = [Prompt("mbpp", i, question, (), "code", row["sample_id"])
               for i, (question, row) in enumerate(routerbench_rows(routerbench_file("mbpp_train.csv.gz")))]
    return _shuffled(prompts, limit=limit, seed=seed)


def _first(response: str) -> str:
    """A RouterBench response is the repr of a list of answers; the first one."""
    try:
        answers = ast.literal_eval(response)
    except (ValueError, SyntaxError):
        return response or ""
    return str(answers[0]) if isinstance(answers, list) and answers else str(answers)


def scored_models(row: dict) -> list[str]:
    return [key.removesuffix("|model_response") for key in row if key.endswith("|model_response")]


def _routellm_mmlu_prompts(root: Path, subject: str) -> list[str] | None:
    path = root / MMLU_RESPONSES / f"mmlu_{subject}.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        return [row["prompt"] for row in csv.DictReader(fh)]


def load(name: str, *, limit: int | None = None, seed: int = 0) -> list[Prompt]:
    """Prompts of a built-in set, shuffled with ``seed`` and cut to ``limit``."""
    if name not in DATASETS:
        raise ModelNotFoundError(f"Unknown dataset {name!r}; built-in sets: {', '.join(DATASETS)}.")
    path = data_dir() / DATASETS[name]
    if not path.is_file():
        raise ModelNotFoundError(
            f"{path} does not exist. Set {DATA_ENV} to the shared data folder (the one with qa/ inside)."
        )
    if name.startswith("mmlu"):
        return _shuffled(_mmlu(name, data_dir()), limit=limit, seed=seed)
    if path.suffixes[-2:] == [".csv", ".gz"]:
        return _shuffled(_routerbench(name, path), limit=limit, seed=seed)
    with open(path, encoding="utf-8") as fh:
        prompts = [_row_to_prompt(name, i, json.loads(line)) for i, line in enumerate(fh) if line.strip()]
    return _shuffled(prompts, limit=limit, seed=seed)


def _stem(text: str) -> str:
    """A question's first line, folded (case, punctuation, articles), for comparing prompts across sets."""
    return fold_text(text.strip().split("\n", 1)[0])


def evaluation_stems() -> set[str]:
    """The stems of every evaluation question: GSM8K test, MMLU test, MT-Bench first turns."""
    stems = {_stem(p.question) for name in ("gsm8k", "mmlu") for p in load(name)}
    with open(data_dir() / "mt_bench" / "question.jsonl", encoding="utf-8") as fh:
        stems |= {_stem(json.loads(line)["turns"][0]) for line in fh if line.strip()}
    stems.discard("")
    return stems


def hash_stem(stem: str) -> str:
    """The first 16 hex digits of a stem's sha256 (what the package ships instead of the evaluation questions)."""
    return hashlib.sha256(stem.encode("utf-8")).hexdigest()[:16]


def stem_hash(text: str) -> str:
    """``hash_stem`` of a question's stem."""
    return hash_stem(_stem(text))


SHIPPED_STEMS = "eval/evaluation_stems.txt.gz"


def evaluation_stem_hashes() -> set[str]:
    """``stem_hash`` of every evaluation question: from the package (``models/eval/evaluation_stems.txt.gz``, so
    that labelling an app's own prompts needs no benchmark data), else computed from the shared data."""
    path = shipped(SHIPPED_STEMS)
    if path is not None:
        with gzip.open(path, "rt", encoding="ascii") as fh:
            return {line.strip() for line in fh if line.strip()}
    return {hash_stem(s) for s in evaluation_stems()}


def without_evaluation_prompts(prompts: list[Prompt]) -> tuple[list[Prompt], int]:
    """``prompts`` without any whose first line is an evaluation question's (training never sees one);
    also the number dropped."""
    hashes = evaluation_stem_hashes()
    kept = [p for p in prompts if stem_hash(p.question) not in hashes]
    return kept, len(prompts) - len(kept)


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


def chosen_letter(answer: str) -> str | None:
    """The option an answer picks: a leading letter, "answer is X", or the first "X." / "X)"."""
    for pattern in _CHOICE_PATTERNS:
        match = pattern.search(answer)
        if match:
            return match.group(1)
    return None


def is_correct(answer: str, prompt: Prompt) -> bool:
    """Math: the answer's last number equals the target. Choice: the picked letter is the gold one.
    QA: a normalised gold alias occurs in the answer. Coding tasks have no gold here: an error."""
    if prompt.kind == "code":
        raise InvalidInputError(f"{prompt.dataset} prompts have no gold answer to score an answer against.")
    if prompt.kind == "choice":
        return chosen_letter(answer) == prompt.answers[0]
    if prompt.kind == "math":
        number = last_number(answer)
        return number is not None and abs(number - float(prompt.answers[0])) < 1e-6
    folded = f" {fold_text(answer)} "
    for gold in prompt.answers:
        key = fold_text(gold)
        if key and f" {key} " in folded:
            return True
    return False
