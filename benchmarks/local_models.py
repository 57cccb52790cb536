"""Greedy answers of several local models to the same GSM8K and MMLU questions, scored.

The questions: 400 GSM8K test questions chosen by the sha256 of their text (the same 400 on every
machine) and the stratified 10 % of MMLU test (1,430 questions, the same share of each subject).
They are answered in one hash-mixed order, every model in turn on each question, so a stopped run
leaves paired answers on a random part of both sets. Rows are appended to one work file per model
in the cache; rerun the same command to resume. ``--snapshot`` (and the end of a full run) writes
the rows so far, sorted and compressed, to ``models/eval/outcomes/<model>.jsonl.gz``, which the
evaluation's on-device pair and ``benchmarks/local_models_report.py`` read. Usage:

    python benchmarks/local_models.py [--models NAME_OR_PATH ...] [--threads N] [--limit N] [--snapshot]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path

from edge_router import LocalLLM
from edge_router.benchmark import environment
from edge_router.datasets import Prompt, is_correct, load
from edge_router.local_outcomes import read_outcomes, row_key, stratified
from edge_router.settings import cache_dir

OUT_DIR = Path(__file__).resolve().parent.parent / "models" / "eval" / "outcomes"
MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m")
GSM8K_QUESTIONS = 400
MMLU_SHARE = 0.10
# Measured on 20 GSM8K test questions outside the 400 (Qwen2.5-Coder-0.5B, see local_models.md): this
# system prompt got 8/20 right against 3/20 for "end with the final number" in the user turn (fewer code
# blocks); answers take a median 272 tokens and 2 of 20 reached 512. A letter needs a few tokens.
MAX_TOKENS = {"math": 512, "choice": 8}
SYSTEM = {
    "math": "Solve the problem step by step in plain words, without writing code. "
            "End with the line: The answer is <number>.",
    "choice": "Reply with the letter of the correct option only: A, B, C or D.",
}


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def questions() -> list[Prompt]:
    """The fixed GSM8K and MMLU questions, in one hash-mixed order."""
    gsm8k = sorted(load("gsm8k"), key=lambda p: _hash(p.question))[:GSM8K_QUESTIONS]
    mmlu = stratified(sorted(load("mmlu"), key=lambda p: p.index), MMLU_SHARE)
    return sorted(gsm8k + mmlu, key=lambda p: _hash(f"{p.dataset}/{p.index}"))


def messages_for(prompt: Prompt) -> list[dict]:
    return [{"role": "system", "content": SYSTEM[prompt.kind]}, {"role": "user", "content": prompt.question}]


def answer_row(llm: LocalLLM, prompt: Prompt) -> dict:
    t0 = time.perf_counter()
    completion = llm.chat(messages_for(prompt), max_tokens=MAX_TOKENS[prompt.kind])
    return {"dataset": prompt.dataset, "index": prompt.index, "subject": prompt.group, "model": llm.id,
            "answer": completion.text, "correct": is_correct(completion.text, prompt),
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.usage.prompt_tokens, "completion_tokens": completion.usage.completion_tokens,
            "ms": round((time.perf_counter() - t0) * 1e3, 1)}


def work_path(model: str) -> Path:
    return cache_dir() / "local_models" / f"{model}.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="registry names or GGUF paths")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (a trial run)")
    parser.add_argument("--snapshot", action="store_true", help="only write the compressed files")
    args = parser.parse_args(argv)
    names = [Path(m).stem if m.endswith(".gguf") else m for m in args.models]
    if args.snapshot:
        return write_snapshots(names)
    prompts = questions()[:args.limit]
    llms = [_load(m, args.threads) for m in args.models]
    print(f"{len(prompts)} questions, models {names}, {environment.describe()}", file=sys.stderr)
    done = {name: read_outcomes(work_path(name)) for name in names}
    outs = {}
    for name in names:
        work_path(name).parent.mkdir(parents=True, exist_ok=True)
        outs[name] = open(work_path(name), "a", encoding="utf-8")
    started, answered = time.perf_counter(), 0
    try:
        for i, prompt in enumerate(prompts):
            for name, llm in zip(names, llms):
                if row_key(prompt.dataset, prompt.index) in done[name]:
                    continue
                outs[name].write(json.dumps(answer_row(llm, prompt), ensure_ascii=False) + "\n")
                outs[name].flush()
                answered += 1
            if i % 20 == 0:
                rate = answered / max(time.perf_counter() - started, 1e-9) * 60
                print(f"question {i + 1}/{len(prompts)}: {rate:.1f} answers/minute", file=sys.stderr, flush=True)
    finally:
        for out in outs.values():
            out.close()
    return write_snapshots(names) if args.limit is None else 0


def _load(model: str, threads: int | None) -> LocalLLM:
    if model.endswith(".gguf"):
        return LocalLLM(model, threads=threads)
    from edge_router import model_store, registry

    return LocalLLM(model_store.resolve(registry.get_spec(model)), model_id=model, threads=threads)


def write_snapshots(names: list[str]) -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in names:
        rows = sorted(read_outcomes(work_path(name)).values(), key=lambda r: (r["dataset"], r["index"]))
        with gzip.open(OUT_DIR / f"{name}.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        counts = {d: sum(r["dataset"] == d for r in rows) for d in ("gsm8k", "mmlu")}
        print(f"{name}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
