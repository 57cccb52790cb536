"""The local models side by side: accuracy on the measured GSM8K and MMLU questions and what each costs here.

Accuracy comes from ``models/eval/outcomes/<model>.jsonl.gz`` (``benchmarks/local_models.py``), on the questions
every listed model has answered, with Wilson 95 % intervals. Speed and memory are measured now, each model in
a fresh interpreter: load time, time to first token and prefill rate for a 200-token prompt, decode rate over
128 tokens, peak resident memory, file size. Run it on a quiet machine. Writes
``benchmarks/results/local_models.{md,json}``. Usage:

    python benchmarks/local_models_report.py [--models NAME ...] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from edge_router.bench import environment
from edge_router.data.eval_data import outcomes_path
from edge_router.data.local_outcomes import read_outcomes
from edge_router.files import model_store, registry
from edge_router.metrics import wilson

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1")

# Run in a fresh interpreter so that load time and peak memory are this model's alone.
PROBE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from edge_router import LocalLLM
llm = LocalLLM(sys.argv[1], threads=int(sys.argv[2]))
load_s = time.perf_counter() - t0
prompt = "Summarise the following notes in one line. " + " ".join(f"note {i}: the meeting moved." for i in range(28))
n_prompt = len(llm.prompt_tokens(prompt))
ttft, decode = [], []
for _ in range(3):
    llm.clear_cache()
    t = time.perf_counter()
    stream = llm.stream(prompt, max_tokens=1)
    next(iter(stream))
    ttft.append(time.perf_counter() - t)
llm.clear_cache()
stream = llm.stream("Count from one to two hundred in words, separated by commas.", max_tokens=128)
pieces = iter(stream)
next(pieces)
t = time.perf_counter()
for _ in pieces:
    pass
decode_s = time.perf_counter() - t
print(json.dumps({"load_s": load_s, "prompt_tokens": n_prompt, "ttft_s": sorted(ttft)[1],
                  "decode_tokens": stream.completion.usage.completion_tokens - 1, "decode_s": decode_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def accuracy(models: list[str]) -> dict:
    rows = {m: read_outcomes(outcomes_path(m)) for m in models}
    shared = set.intersection(*(set(r) for r in rows.values()))
    out = {}
    for m in models:
        out[m] = {}
        for dataset in ("gsm8k", "mmlu"):
            keys = [k for k in shared if k.startswith(dataset + "/")]
            right = sum(bool(rows[m][k]["correct"]) for k in keys)
            capped = sum(rows[m][k].get("finish_reason") == "length" for k in keys)
            low, high = wilson(right, len(keys))
            out[m][dataset] = {"n": len(keys), "correct": right, "accuracy": right / len(keys) if keys else None,
                               "ci95": [low, high], "hit_token_limit": capped}
    return out


def speed(model: str, threads: int) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, model, str(threads)], capture_output=True, text=True,
                          check=True)
    m = json.loads(done.stdout.strip().splitlines()[-1])
    m["prefill_tok_s"] = m["prompt_tokens"] / m["ttft_s"]
    m["decode_tok_s"] = m["decode_tokens"] / m["decode_s"]  # after the first token, so prefill is not in it
    m["file_mb"] = registry.get_spec(model).size / 1e6
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for m in args.models:
        model_store.resolve(registry.get_spec(m))
    acc = accuracy(args.models)
    speeds = {m: speed(m, args.threads) for m in args.models}
    env = environment.describe()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_models.json").write_text(json.dumps({"environment": env, "accuracy": acc, "speed": speeds},
                                                          indent=1) + "\n", encoding="utf-8")
    (RESULTS / "local_models.md").write_text(render(env, acc, speeds, args.threads), encoding="utf-8")
    print(render(env, acc, speeds, args.threads))
    return 0


def _pct(a: dict) -> str:
    if not a["n"]:
        return "n/a"
    low, high = a["ci95"]
    return f"{100 * a['accuracy']:.1f} % ({a['correct']}/{a['n']}; {100 * low:.0f}–{100 * high:.0f})"


def render(env: dict, acc: dict, speeds: dict, threads: int) -> str:
    lines = [
        "# Local models measured here",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores ({', '.join(env['instruction_sets'])}), {env['os']}, "
        f"Python {env['python']}, llama-cpp-python {env['libraries'].get('llama-cpp-python')}; {threads} threads, "
        f"greedy without a repetition penalty; commit {env.get('commit')}. Made by "
        "`python benchmarks/local_models_report.py`.",
        "",
        "## Accuracy (greedy, Wilson 95 % interval)",
        "",
        "Questions: the ones every model below has answered so far of the fixed set of `benchmarks/local_models.py`"
        " (400 hash-chosen GSM8K test questions, 1,430 stratified MMLU test questions), in its hash-mixed order, so"
        " a partial run is a random subset of both. The Qwen models were asked with the system prompts in"
        " `edge_router/data/local_outcomes.py` (step-by-step math up to 512 tokens, letter-only MMLU up to 8);"
        " SmolLM2's rows are older: the question with an instruction appended, GSM8K capped at 128 tokens.",
        "",
        "| model | GSM8K | MMLU | GSM8K answers at the token limit |",
        "|---|---|---|---|",
    ]
    for m, a in acc.items():
        lines.append(f"| {m} | {_pct(a['gsm8k'])} | {_pct(a['mmlu'])} | {a['gsm8k']['hit_token_limit']} |")
    lines += [
        "",
        "## Speed and memory",
        "",
        "Each model in a fresh interpreter. Prefill: a 200-token prompt, cache cleared, median of 3 (time to first"
        " token). Decode: the tokens of a 128-token answer after its first. Peak RSS: the whole process at n_ctx"
        " 2048 (Python, llama.cpp, the model).",
        "",
        "| model | file | load | time to first token | prefill | decode | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, s in speeds.items():
        lines.append(f"| {m} | {s['file_mb']:.0f} MB | {s['load_s']:.2f} s | {1e3 * s['ttft_s']:.0f} ms "
                     f"({s['prompt_tokens']} tokens) | {s['prefill_tok_s']:.0f} tok/s | {s['decode_tok_s']:.1f} tok/s "
                     f"| {s['peak_rss_mb']:.0f} MB |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
