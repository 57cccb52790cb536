"""Greedy answers of several local models to the same GSM8K and MMLU questions, scored.

The questions: 400 GSM8K test questions chosen by the sha256 of their text (the same 400 on every
machine) and the stratified 10 % of MMLU test (1,430 questions, the same share of each subject).
They are answered in one hash-mixed order, 128 questions at a time, every model in turn on each block, so a
stopped run leaves paired answers on a random part of both sets; within a block, GSM8K answers are decoded
four together (``LocalLLM.answer_many``, ``local_outcomes.SLOTS``: 1.2 to 1.4 times one answer's throughput
here) and every answer keeps its first 32 tokens' statistics (rows without ``slots`` were made one at a time,
without them). Rows are appended to one work file per model
in the cache; rerun the same command to resume. ``--snapshot`` (and the end of a full run) writes
the rows so far, sorted and compressed, to ``models/eval/outcomes/<model>.jsonl.gz``, which the
evaluation's on-device pair and ``benchmarks/local_models_report.py`` read. Usage:

    python benchmarks/local_models.py [--models NAME_OR_PATH ...] [--threads N] [--limit N] [--snapshot]
    python benchmarks/local_models.py --ray local|auto|ADDRESS [--actors N] [--threads N]   # the same job on Ray

On Ray (``edge_router.scale.ray_outcomes``) the groups are spread over ``--actors`` actors of ``--threads``
threads each (default 1), every actor holding its own copy of each model; the rows are the same.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

from edge_router import LocalLLM
from edge_router.bench import environment
from edge_router.data.datasets import Prompt, load
from edge_router.data.local_outcomes import answer_paired, read_outcomes, stratified
from edge_router.settings import cache_dir

OUT_DIR = Path(__file__).resolve().parent.parent / "models" / "eval" / "outcomes"
MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m")
GSM8K_QUESTIONS = 400
MMLU_SHARE = 0.10


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def questions() -> list[Prompt]:
    """The fixed GSM8K and MMLU questions, in one hash-mixed order."""
    gsm8k = sorted(load("gsm8k"), key=lambda p: _hash(p.question))[:GSM8K_QUESTIONS]
    mmlu = stratified(sorted(load("mmlu"), key=lambda p: p.index), MMLU_SHARE)
    return sorted(gsm8k + mmlu, key=lambda p: _hash(f"{p.dataset}/{p.index}"))


def work_path(model: str) -> Path:
    return cache_dir() / "local_models" / f"{model}.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="registry names or GGUF paths")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (a trial run)")
    parser.add_argument("--snapshot", action="store_true", help="only write the compressed files")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on Ray: local (a Ray on this machine), auto or an "
                                                         "address (a running cluster)")
    parser.add_argument("--actors", type=int, default=2, help="Ray actors (with --ray)")
    args = parser.parse_args(argv)
    ids = {Path(m).stem if m.endswith(".gguf") else m: m for m in args.models}
    if args.snapshot:
        return write_snapshots(list(ids))
    prompts = questions()[:args.limit]
    if args.ray:
        from edge_router.scale.ray_outcomes import answer_on_ray

        print(f"{len(prompts)} questions on Ray ({args.actors} actors), models {list(ids)}, "
              f"{environment.describe()}", file=sys.stderr)
        summary = answer_on_ray(prompts, ids, {i: work_path(i) for i in ids}, actors=args.actors,
                                threads=args.threads or 1, address=args.ray,
                                log=lambda line: print(line, file=sys.stderr, flush=True))
        print(summary, file=sys.stderr)
        return write_snapshots(list(ids)) if args.limit is None else 0
    # Without the answers' repetition penalty: the job began before its default became 1.1, and every row of
    # a set must be made the same way (benchmarks/results/generation_settings.md compares the two).
    # n_ctx: four 512-token answers and their prompts side by side in the batch's KV cache.
    models = [LocalLLM(m, threads=args.threads, repeat_penalty=1.0, n_ctx=4096) for m in args.models]
    print(f"{len(prompts)} questions, models {[m.id for m in models]}, {environment.describe()}", file=sys.stderr)
    answer_paired(prompts, models, {m.id: work_path(m.id) for m in models},
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    return write_snapshots([m.id for m in models]) if args.limit is None else 0


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
