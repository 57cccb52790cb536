"""Greedy answers of the default local model to GSM8K (all 1,319) and a stratified 10 % of MMLU test
(same share of each of the 57 subjects, 1,430 questions), scored against the gold answers.

Resumable: rows are appended to a work file in the cache; rerun the same command after a stop. At the end
(or with ``--snapshot`` at any time) the rows so far are written, sorted and compressed, to
``models/eval/local_outcomes.jsonl.gz``, which ``edge-router eval --pair local-gpt4`` reads. Usage:

    python benchmarks/local_pair.py [--threads N] [--limit N] [--snapshot]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from edge_router import LocalLLM
from edge_router.benchmark import environment
from edge_router.datasets import load
from edge_router.local_outcomes import answer_prompts, read_outcomes, stratified
from edge_router.settings import cache_dir

OUT = Path(__file__).resolve().parent.parent / "models" / "eval" / "local_outcomes.jsonl.gz"
MMLU_SHARE = 0.10
MAX_TOKENS = {"math": 128, "choice": 16}


def questions(limit: int | None):
    gsm8k = sorted(load("gsm8k"), key=lambda p: p.index)
    mmlu = stratified(sorted(load("mmlu"), key=lambda p: p.index), MMLU_SHARE)
    return mmlu[:limit] + gsm8k[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N questions of each set (a trial run)")
    parser.add_argument("--work", type=Path, default=cache_dir() / "local_pair.jsonl")
    parser.add_argument("--snapshot", action="store_true", help="only write the compressed file from the work file")
    args = parser.parse_args(argv)
    if args.snapshot:
        return write_snapshot(args.work)
    prompts = questions(args.limit)
    llm = LocalLLM(threads=args.threads)
    print(f"{len(prompts)} questions, local model {llm.id}, {environment.describe()}", file=sys.stderr)
    summary = answer_prompts(prompts, args.work, llm, max_tokens=MAX_TOKENS)
    print(json.dumps(summary), file=sys.stderr)
    return write_snapshot(args.work) if args.limit is None else 0


def write_snapshot(work: Path) -> int:
    rows = read_outcomes(work)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows.values(), key=lambda r: (r["dataset"], r["index"]))
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in ordered)
    counts = {name: sum(r["dataset"] == name for r in ordered) for name in ("gsm8k", "mmlu")}
    print(f"wrote {OUT}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
