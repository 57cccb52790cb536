"""Per-question outcomes of a strong and a weak model on GSM8K, MMLU and MT-Bench.

Three pairs:

- ``gpt4-mixtral``: RouteLLM's recorded results (``routellm_evals/`` in the shared data folder) for
  gpt-4-1106-preview and Mixtral-8x7B-Instruct: correctness on GSM8K and MMLU, the GPT-4 judge's 1–10
  score on MT-Bench (mean of both turns; routing looks at the first user turn only).
- ``local-gpt4``: the default local model's greedy answers measured on this project's machine
  (``models/eval/outcomes/<model>.jsonl.gz``, made by ``benchmarks/local_models.py``) against GPT-4's
  recorded correctness on the same questions (GSM8K and MMLU; MT-Bench has no judge scores for it).
- ``on-device``: the default local model (weak) against the demo's cloud stand-in model (strong), both
  measured here on the same GSM8K and MMLU questions: the pair this project can sample and label.

Prompts that RouteLLM lists as contaminated (near-duplicates of its training prompts) are dropped.
Token counts for cost are counted with the embedder's WordPiece tokenizer (an approximation of the
providers' tokenizers); MMLU has no recorded answers, so its outputs count as one token.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .. import settings
from ..defaults import EVAL_PAIRS
from ..errors import InvalidInputError, ModelNotFoundError
from ..files import registry
from . import datasets
from .local_outcomes import read_outcomes

BENCHMARKS = ("gsm8k", "mmlu", "mt-bench")
PAIRS = EVAL_PAIRS
STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
ROUTELLM = "routellm_evals"
_ANSWER = re.compile(r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S)


@dataclass
class EvalSet:
    """Aligned arrays, one entry per question."""

    benchmark: str
    pair: str
    strong_model: str
    weak_model: str
    keys: list[str]
    prompts: list[str]
    strong: np.ndarray
    weak: np.ndarray
    strong_texts: list[str | None]
    weak_texts: list[str | None]
    dropped_contaminated: int
    outcome: str  # "accuracy" or "judge score (1-10)"

    def __len__(self) -> int:
        return len(self.keys)


def _root() -> Path:
    root = datasets.data_dir() / ROUTELLM
    if not root.is_dir():
        raise ModelNotFoundError(
            f"{root} does not exist. Set {settings.DATA_ENV} to the shared data folder (the one with "
            f"{ROUTELLM}/ inside).")
    return root


def _contaminated(benchmark: str) -> set[str]:
    path = _root() / benchmark.replace("-", "_") / "contaminated_prompts.jsonl"
    with open(path, encoding="utf-8") as fh:
        return {json.loads(line)["eval_prompt"].strip() for line in fh if line.strip()}


def _truth(value: str) -> float:
    return 1.0 if value.strip() == "True" else 0.0


def _gsm8k() -> list[dict]:
    csv.field_size_limit(sys.maxsize)
    with open(_root() / "gsm8k" / "gsm8k_responses.csv", newline="", encoding="utf-8") as fh:
        return [{"key": f"gsm8k/{i}", "prompt": r["prompt"], "strong": _truth(r[STRONG_MODEL]),
                 "weak": _truth(r[WEAK_MODEL]), "strong_text": r[f"{STRONG_MODEL}_response"],
                 "weak_text": r[f"{WEAK_MODEL}_response"]} for i, r in enumerate(csv.DictReader(fh))]


def _mmlu() -> list[dict]:
    rows = []
    for path in sorted((_root() / "mmlu" / "responses").glob("mmlu_*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                rows.append({"key": f"mmlu/{len(rows)}", "prompt": r["prompt"], "strong": _truth(r[STRONG_MODEL]),
                             "weak": _truth(r[WEAK_MODEL]), "strong_text": None, "weak_text": None})
    return rows


def _mt_bench() -> list[dict]:
    root = _root() / "mt_bench"
    with open(root / "question.jsonl", encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh if line.strip()]
    scores: dict[tuple[int, str], list[float]] = {}
    by_turn: dict[tuple[int, str, int], float] = {}
    first_answers: dict[tuple[int, str], str] = {}
    with open(root / "judgements.jsonl", encoding="utf-8") as fh:
        for line in fh:
            j = json.loads(line)
            scores.setdefault((j["question_id"], j["model"]), []).append(float(j["score"]))
            by_turn[(j["question_id"], j["model"], j["turn"])] = float(j["score"])
            if j["turn"] == 1:
                match = _ANSWER.search(j["user_prompt"])
                first_answers[(j["question_id"], j["model"])] = match.group(1) if match else None
    rows = []
    for q in questions:
        qid = q["question_id"]
        rows.append({"key": f"mt-bench/{qid}", "prompt": q["turns"][0],
                     "strong": float(np.mean(scores[(qid, STRONG_MODEL)])),
                     "weak": float(np.mean(scores[(qid, WEAK_MODEL)])),
                     "strong_text": first_answers.get((qid, STRONG_MODEL)),
                     "weak_text": first_answers.get((qid, WEAK_MODEL)), "turns": tuple(q["turns"]),
                     "turn_scores": {t: (by_turn[(qid, STRONG_MODEL, t)], by_turn[(qid, WEAK_MODEL, t)])
                                     for t in (1, 2)}})
    return rows


def _turn(rows: list[dict], turn: int, routing_turns: int) -> list[dict]:
    """MT-Bench rows scored on one turn, each prompt the routing text of the conversation up to that turn (the
    user turns, newest first, as ``routing_text`` reads them; the assistant's earlier answers are not read)."""
    from ..backends.messages import routing_text

    out = []
    for r in rows:
        chat = [{"role": "user", "content": text} for text in r["turns"][:turn]]
        strong, weak = r["turn_scores"][turn]
        out.append(dict(r, key=f"{r['key']}/turn{turn}", prompt=routing_text(chat, routing_turns), strong=strong,
                        weak=weak, strong_text=None, weak_text=None))
    return out


_READERS = {"gsm8k": _gsm8k, "mmlu": _mmlu, "mt-bench": _mt_bench}


@lru_cache(maxsize=None)
def _recorded(benchmark: str) -> tuple[list[dict], int]:
    dirty = _contaminated(benchmark)
    rows = _READERS[benchmark]()
    kept = [r for r in rows if r["prompt"].strip() not in dirty]
    return kept, len(rows) - len(kept)


@lru_cache(maxsize=None)
def _read_once(path: Path) -> dict[str, dict]:
    return read_outcomes(path)


def outcomes_path(model: str) -> Path:
    """The shipped greedy outcomes of a registered local model (``models/eval/outcomes/<model>.jsonl.gz``)."""
    return Path(str(resources.files("edge_router_models").joinpath(f"eval/outcomes/{model}.jsonl.gz")))


def _measured(path: str | Path | None) -> dict[str, dict]:
    """Outcome rows from ``path`` (default: the default local model's shipped file), or a clear error."""
    path = Path(path) if path is not None else outcomes_path(registry.default_spec("local-llm").name)
    rows = _read_once(path)
    if not rows:
        raise ModelNotFoundError(f"{path} has no measured outcomes; make them with "
                                 "`python benchmarks/local_models.py --models NAME`.")
    return rows


def load(benchmark: str, pair: str = "gpt4-mixtral", *, local_outcomes: str | Path | None = None,
         turn: int | None = None, routing_turns: int = 1) -> EvalSet:
    """The evaluation set of one benchmark for one model pair; for MT-Bench, ``turn`` (1 or 2) scores that turn
    alone, routed on its conversation's last ``routing_turns`` user turns (default: both turns' mean score, routed
    on the first)."""
    if benchmark not in BENCHMARKS:
        raise InvalidInputError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARKS)}.")
    if pair not in PAIRS:
        raise InvalidInputError(f"unknown pair {pair!r}; choose from {', '.join(PAIRS)}.")
    rows, dropped = _recorded(benchmark)
    if turn is not None:
        if benchmark != "mt-bench" or turn not in (1, 2):
            raise InvalidInputError("turn is 1 or 2, and only MT-Bench has turns (--benchmark mt-bench --turn 2).")
        rows = _turn(rows, turn, routing_turns)
    weak_model, strong_model = WEAK_MODEL, STRONG_MODEL
    if pair == "local-gpt4":
        if benchmark == "mt-bench":
            raise InvalidInputError("the local-gpt4 pair has no MT-Bench judge scores; use --pair gpt4-mixtral.")
        local = _measured(local_outcomes)
        rows = [dict(r, weak=float(local[r["key"]]["correct"]), weak_text=local[r["key"]]["answer"])
                for r in rows if r["key"] in local]
        weak_model = next(iter(local.values()))["model"]
    if pair == "on-device":
        if benchmark == "mt-bench":
            raise InvalidInputError("the on-device pair has no MT-Bench judge scores; use --pair gpt4-mixtral.")
        weak, strong = _measured(local_outcomes), _measured(outcomes_path(registry.default_spec("cloud-standin").name))
        rows = [dict(r, weak=float(weak[r["key"]]["correct"]), weak_text=weak[r["key"]]["answer"],
                     strong=float(strong[r["key"]]["correct"]), strong_text=strong[r["key"]]["answer"])
                for r in rows if r["key"] in weak and r["key"] in strong]
        weak_model = next(iter(weak.values()))["model"]
        strong_model = next(iter(strong.values()))["model"]
    return EvalSet(
        benchmark=benchmark, pair=pair, strong_model=strong_model, weak_model=weak_model,
        keys=[r["key"] for r in rows], prompts=[r["prompt"] for r in rows],
        strong=np.array([r["strong"] for r in rows]), weak=np.array([r["weak"] for r in rows]),
        strong_texts=[r["strong_text"] for r in rows], weak_texts=[r["weak_text"] for r in rows],
        dropped_contaminated=dropped,
        outcome="judge score (1-10)" if benchmark == "mt-bench" else "accuracy",
    )
