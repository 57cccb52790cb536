"""k samples one after another against k samples in one batch, side by side, with the default local model.

For k = 3, 5, 10 samples of at most 48 tokens (temperature 1) of the same prompt: token throughput of each
path and its time against one greedy answer of 48 tokens, the two paths alternating, ``--reps`` times each
(median). Targets from the issue: five samples at ≥ 1.5× one answer's token throughput, ten at ≥ 2×.
Writes ``benchmarks/results/batched_sampling.{md,json}``; run it on a quiet machine.

    python benchmarks/batched_sampling.py [--model NAME_OR_GGUF] [--reps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from edge_router import LocalLLM
from edge_router.bench import environment

RESULTS = Path(__file__).resolve().parent / "results"
PROMPT = "Write a short paragraph about the sea."
TOKENS = 48


def _rate(fn) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    llm = LocalLLM(args.model, threads=args.threads, seed=0)
    llm.sample(PROMPT, 2, max_tokens=4)  # create the batch context outside the timings
    one = [_rate(lambda: llm.chat(PROMPT, max_tokens=TOKENS).usage.completion_tokens) for _ in range(args.reps)]
    one_s = statistics.median(t for t, _ in one)
    one_rate = statistics.median(n / t for t, n in one)
    rows = []
    for k in (3, 5, 10):
        runs: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
        for _ in range(args.reps):
            for batched in (False, True):
                runs[batched].append(_rate(lambda: sum(len(s.token_logprobs) for s in llm.sample(
                    PROMPT, k, max_tokens=TOKENS, batched=batched))))
        for batched in (False, True):
            rate = statistics.median(n / t for t, n in runs[batched])
            seconds = statistics.median(t for t, _ in runs[batched])
            rows.append({"k": k, "path": "batched" if batched else "sequential", "tok_s": rate,
                         "vs_one_answer_throughput": rate / one_rate, "seconds": seconds,
                         "vs_one_answer_time": seconds / one_s})
    env = environment.describe()
    result = {"environment": env, "model": llm.id, "one_answer": {"seconds": one_s, "tok_s": one_rate},
              "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batched_sampling.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# k samples: one after another vs one batch",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, {args.threads} threads; llama-cpp-python "
        f"{env['libraries'].get('llama-cpp-python')}; commit {env.get('commit')}. Model: {llm.id}. Prompt: "
        f"\"{PROMPT}\", samples of at most {TOKENS} tokens at temperature 1, median of {args.reps} alternating runs."
        f" One greedy answer of {TOKENS} tokens: {one_s:.2f} s, {one_rate:.1f} tok/s.",
        "",
        "| k | path | tokens/s | × one answer's throughput | seconds | × one answer's time |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['k']} | {r['path']} | {r['tok_s']:.1f} | {r['vs_one_answer_throughput']:.2f} | "
                     f"{r['seconds']:.2f} | {r['vs_one_answer_time']:.2f} |")
    (RESULTS / "batched_sampling.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
