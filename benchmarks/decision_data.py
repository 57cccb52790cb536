"""The long job behind the local-model-aware decision: prefill states and in-domain GSM8K answers.

1. ``features``: the on-device model's per-layer prefill states (``LocalLLM.prefill_state``) for every measured
   GSM8K/MMLU outcome (asked as the benchmark asked it), stored in the cache (``FeatureStore``; keys
   ``outcomes/<dataset>/<index>``).
2. ``labels``: the prefill states of every row of the Qwen pair's label file (asked as labelling asked it; keys
   ``labels/<id>``).
3. ``train``: GSM8K training problems (never a test question: checked against the evaluation stems), in sha256
   order, 64 at a time: their prefill states (``gsm8k-train/<index>``), then the on-device model's greedy answer in
   the benchmark's own format (``local_outcomes.messages_for``: step by step, final number), decoded four together.
4. ``strong``: the same problems answered by the stronger Qwen2.5-Coder-1.5B, as the CPU allows.
5. ``plain``: the label rows' prefill states once more, each question asked as a plain chat (no system prompt,
   as apps ask; keys ``labels-plain/<id>``), run before the strong side.

On two cores a prefill state takes one to two seconds (MMLU prompts are longest) and a step-by-step answer about
ten: the evaluation's states come first (the evaluation needs them whole), then the label rows' states and the
local side's in-domain answers in alternating blocks of 64, and the strong side last.

Every phase resumes where it stopped (rows and shards already written are skipped). ``--snapshot`` writes the
answers so far, sorted and compressed, to ``models/probes/gsm8k-train/<model>.jsonl.gz``. Usage:

    python benchmarks/decision_data.py [--phases features labels train strong plain] [--problems 1000] [--threads N]
    python benchmarks/decision_data.py --snapshot
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
import time
from pathlib import Path

from edge_router import LocalLLM
from edge_router.bench import environment
from edge_router.data import datasets
from edge_router.data.local_outcomes import answer_paired, messages_for, read_outcomes
from edge_router.data.prefill_features import FeatureStore
from edge_router.settings import cache_dir
from edge_router.training.labels import label_messages, read_rows

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
OUTCOMES = ROOT / "models" / "eval" / "outcomes"
OUT_DIR = ROOT / "models" / "probes" / "gsm8k-train"
LOCAL, STRONG = "qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m"
BLOCK = 64
PHASES = ("features", "labels", "train", "strong", "plain")


def feature_store() -> FeatureStore:
    return FeatureStore(cache_dir() / "decision" / f"{LOCAL}.prefill")


def work_path(model: str) -> Path:
    return cache_dir() / "decision" / f"{model}.gsm8k-train.jsonl"


def train_problems(limit: int) -> list[datasets.Prompt]:
    """The first ``limit`` GSM8K training problems in sha256 order, evaluation questions left out."""
    kept, dropped = datasets.without_evaluation_prompts(datasets.load("gsm8k-train"))
    if dropped:
        print(f"{dropped} training problems share a first line with an evaluation question: left out", file=sys.stderr)
    return sorted(kept, key=lambda p: hashlib.sha256(p.question.encode("utf-8")).hexdigest())[:limit]


def _store_states(llm: LocalLLM, store: FeatureStore, items: list[tuple[str, list[dict]]], label: str) -> None:
    done = store.keys()
    todo = [(key, messages) for key, messages in items if key not in done]
    print(f"{label}: {len(items) - len(todo)} stored, {len(todo)} to read", file=sys.stderr, flush=True)
    started = time.perf_counter()
    for begin in range(0, len(todo), BLOCK):
        block = todo[begin:begin + BLOCK]
        store.add([k for k, _ in block], [llm.prefill_state(m) for _, m in block])
        rate = (begin + len(block)) / (time.perf_counter() - started)
        print(f"{label}: {begin + len(block)}/{len(todo)} ({rate:.2f} prompts/s)", file=sys.stderr, flush=True)


def outcome_features(llm: LocalLLM, store: FeatureStore) -> None:
    outcome_rows = read_outcomes(OUTCOMES / f"{LOCAL}.jsonl.gz")
    questions = {f"{p.dataset}/{p.index}": p for name in ("gsm8k", "mmlu") for p in datasets.load(name)}
    items = [(f"outcomes/{key}", messages_for(questions[key])) for key in sorted(outcome_rows)]
    _store_states(llm, store, items, "outcome prefill states")


def label_items() -> list[tuple[str, list[dict]]]:
    """Every label row's key and chat, in the rows' order (hash order, as they were labelled)."""
    return [(f"labels/{row['id']}", label_messages(datasets.Prompt(row["dataset"], row["index"], row["prompt"],
                                                                   tuple(row["answers"]), row["kind"])))
            for row in read_rows(LABELS)]


def plain_label_items() -> list[tuple[str, list[dict]]]:
    """Every label row's question as a plain chat (the user's message alone, as apps ask), keyed
    ``labels-plain/<id>``: the probe learns the state of both formats."""
    return [(f"labels-plain/{row['id']}", [{"role": "user", "content": row["prompt"]}]) for row in read_rows(LABELS)]


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def answer(llm: LocalLLM, problems: list[datasets.Prompt], store: FeatureStore | None) -> None:
    """Answer ``problems`` 64 at a time, each block after its prefill states (with a ``store``)."""
    for begin in range(0, len(problems), BLOCK):
        block = problems[begin:begin + BLOCK]
        if store is not None:
            _store_states(llm, store, [(f"gsm8k-train/{p.index}", messages_for(p)) for p in block],
                          f"train prefill states from problem {block[0].index}")
        answer_paired(block, [llm], {llm.id: work_path(llm.id)}, chunk=BLOCK, log=_log)
        print(f"{llm.id}: {len(read_outcomes(work_path(llm.id)))} training answers", file=sys.stderr, flush=True)


LABEL_BLOCKS_PER_ANSWER_BLOCK = 3


def labels_and_answers(llm: LocalLLM, problems: list[datasets.Prompt], store: FeatureStore) -> None:
    """Three blocks of the label rows' states, then a block of training answers, in turn: a stopped run leaves
    both kinds of rows (64 label rows' states take about a seventh of the time of 64 answers)."""
    labels, step = label_items(), LABEL_BLOCKS_PER_ANSWER_BLOCK * BLOCK
    for number in range(max(math.ceil(len(problems) / BLOCK), math.ceil(len(labels) / step))):
        _store_states(llm, store, labels[number * step:(number + 1) * step], f"label prefill states, part {number}")
        answer(llm, problems[number * BLOCK:(number + 1) * BLOCK], store)


def write_snapshots() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for model in (LOCAL, STRONG):
        rows = sorted(read_outcomes(work_path(model)).values(), key=lambda r: r["index"])
        if not rows:
            continue
        with gzip.open(OUT_DIR / f"{model}.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        print(f"{model}: {len(rows)} rows", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES)
    parser.add_argument("--problems", type=int, default=1000, help="GSM8K training problems to answer")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--snapshot", action="store_true", help="only write the compressed answer files")
    args = parser.parse_args(argv)
    if args.snapshot:
        write_snapshots()
        return 0
    print(f"phases {args.phases}, {environment.describe()}", file=sys.stderr, flush=True)
    problems = train_problems(args.problems)
    store = feature_store()
    if {"features", "train", "labels", "plain"} & set(args.phases):
        # No repetition penalty and room for four answers side by side: as the outcome sets were answered.
        llm = LocalLLM(LOCAL, threads=args.threads, repeat_penalty=1.0, n_ctx=4096)
        if "features" in args.phases:
            outcome_features(llm, store)
        if {"labels", "train"} <= set(args.phases):
            labels_and_answers(llm, problems, store)
        elif "labels" in args.phases:
            _store_states(llm, store, label_items(), "label prefill states")
        elif "train" in args.phases:
            answer(llm, problems, store)
        if "plain" in args.phases:
            _store_states(llm, store, plain_label_items(), "plain label prefill states")
        llm.close()
    if "strong" in args.phases:
        answer(LocalLLM(STRONG, threads=args.threads, repeat_penalty=1.0, n_ctx=4096), problems, None)
    write_snapshots()
    return 0


if __name__ == "__main__":
    sys.exit(main())
