"""Token statistics of the local model's own greedy answers, for training and measuring the answer check.

For every row of the Qwen pair's label file (the 0.5B greedy short answer, asked as labelling asked it) and
every measured GSM8K/MMLU outcome of the local model (its greedy answer, asked as the benchmark asked it),
the log-probability and entropy of each of the answer's first 32 tokens: by teacher forcing
(``LocalLLM.score_answer``: one prefill, no generation), or, for label rows and outcomes that kept them
while they were decoded (``labels._greedy``, ``local_outcomes.STATS_TOKENS``), those. Resumable; writes
``models/probes/qwen-pair.signals.jsonl.gz`` (one row per answer: ``source``, ``key``, ``logprobs``, ``entropies``).
Run from the repository root:

    python models/probes/signals.py [--threads N] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from edge_router import LocalLLM
from edge_router.backends.token_stats import as_lists
from edge_router.data import datasets, resumable
from edge_router.data.local_outcomes import messages_for, read_outcomes
from edge_router.data.resumable import append_rows
from edge_router.settings import cache_dir
from edge_router.training.labels import label_messages, read_rows

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
OUTCOMES = ROOT / "models" / "eval" / "outcomes"
OUT = Path(__file__).parent / "qwen-pair.signals.jsonl.gz"
MAX_TOKENS = 32


def work_path() -> Path:
    return cache_dir() / "probes" / "signals.jsonl"


def answers(model: str) -> list[dict]:
    """Every answer to score: (source, key, messages, answer)."""
    todo = []
    for row in read_rows(LABELS):
        prompt = datasets.Prompt(row["dataset"], row["index"], row["prompt"], tuple(row["answers"]), row["kind"])
        weak = row["weak"]
        todo.append({"source": "labels", "key": row["id"], "messages": label_messages(prompt),
                     "answer": weak["greedy"], "kept": (weak["greedy_logprobs"], weak["greedy_entropies"])
                     if "greedy_logprobs" in weak else None})
    outcomes = read_outcomes(OUTCOMES / f"{model}.jsonl.gz")
    if outcomes:
        by_key = {f"{p.dataset}/{p.index}": p for name in ("gsm8k", "mmlu") for p in datasets.load(name)}
        for key, row in sorted(outcomes.items()):
            todo.append({"source": "outcomes", "key": key, "messages": messages_for(by_key[key]),
                         "answer": row["answer"], "kept": (row["logprobs"], row["entropies"]) if "logprobs" in row
                         else None})
    return todo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    llm = LocalLLM(threads=args.threads)
    work = work_path()
    work.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["source"], r["key"]) for r in resumable.read_rows(work)}
    todo = [a for a in answers(llm.id) if (a["source"], a["key"]) not in done][:args.limit]

    def row(item: dict) -> dict:
        if item.get("kept"):
            logprobs, entropies = (values[:MAX_TOKENS] for values in item["kept"])
        else:
            logprobs, entropies = as_lists(llm.score_answer(item["messages"], item["answer"], max_tokens=MAX_TOKENS))
        return {"source": item["source"], "key": item["key"], "model": llm.id, "logprobs": logprobs,
                "entropies": entropies}

    append_rows(work, todo, row, label="scoring", unit="answers", progress=True)
    rows = sorted(resumable.read_rows(work), key=lambda r: (r["source"], r["key"]))
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        out.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"{len(rows)} answers scored -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
