"""Labelling throughput as it was and as it is, on the same prompts, and where a prompt's time goes.

Labels the same ``--prompts`` training prompts (default 50, the first in labelling's hash order) three times
into throw-away files: as before this work (every sample drawn one after another by the on-device model and
the loopback stand-in, prompts in hash order), with the k samples in one batch, and as ``edge-router label``
runs now (one batch, and prompts grouped by kind so that consecutive prompts share their system prompt's
cached tokens). Prints prompts per minute, the ratios and each side's time split (greedy answer, samples),
and writes ``benchmarks/results/label_throughput.{md,json}``. Run on a quiet machine (about 15 minutes on
two cores):

    python benchmarks/label_throughput.py [--prompts 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from edge_router import CloudLLM, ExactMatchClusterer, LocalLLM
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.data import datasets
from edge_router.defaults import TRAINING_SETS
from edge_router.loopback.standin import MODEL_ALIAS, StandinServer
from edge_router.training.labels import LabelConfig, label_prompts, prompt_id, read_rows

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    pool = [p for name in TRAINING_SETS for p in datasets.load(name, limit=100)]
    pool, _ = datasets.without_evaluation_prompts(pool)
    prompts = sorted(pool, key=lambda p: prompt_id(p.question))[:args.prompts]
    runs = {}
    for name, batched, block in (("as before: one after another, hash order", False, 1),
                                 ("samples in one batch, hash order", True, 1),
                                 ("now: one batch, prompts grouped by kind", True, 64)):
        with StandinServer(threads=args.threads, batched_sampling=batched, repeat_penalty=1.0) as standin, \
                tempfile.TemporaryDirectory() as tmp:
            weak = LocalLLM(threads=args.threads, seed=0, batched_sampling=batched, repeat_penalty=1.0)
            strong = CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS, deadline_s=300.0)
            summary = label_prompts(prompts, Path(tmp) / "labels.jsonl", weak=weak, strong=strong,
                                    clusterer=ExactMatchClusterer(), config=LabelConfig(), progress=False, block=block)
            rows = read_rows(Path(tmp) / "labels.jsonl")
            weak.close()
        runs[name] = {"prompts": summary["labelled"], "seconds": summary["seconds"],
                      "prompts_per_minute": summary["prompts_per_minute"],
                      **{f"{side}_{part}_ms": statistics.mean(r[side][f"{part}_ms"] for r in rows)
                         for side in ("weak", "strong") for part in ("greedy", "sample")}}
        print(f"{name}: {runs[name]}", file=sys.stderr)
    before, batched_only, now = (r["prompts_per_minute"] for r in runs.values())
    ratio = now / before
    last = list(runs.values())[-1]
    greedy_share = (last["weak_greedy_ms"] + last["strong_greedy_ms"]) / (last["seconds"] / last["prompts"] * 1e3)
    env = environment.describe()
    result = {"environment": env, "runs": runs, "ratio": ratio, "ratio_batching_only": batched_only / before,
              "target": 1.5}
    RESULTS.mkdir(exist_ok=True)
    write_json(result, RESULTS / "label_throughput.json")
    lines = [
        "# Labelling throughput: as before and as now",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, {args.threads} threads per model; llama-cpp-python "
        f"{env['libraries'].get('llama-cpp-python')}; commit {env.get('commit')}. The same {len(prompts)} training "
        "prompts labelled three times (`edge-router label`'s defaults: k = 5 samples of at most 32 tokens per side, "
        "a greedy answer per side, exact clustering), the on-device Qwen2.5-Coder-0.5B and the loopback stand-in's "
        "Qwen2.5-Coder-1.5B on the same two cores, one after the other.",
        "",
        "| labelling | prompts | seconds | prompts per minute | local greedy ms | local samples ms "
        "| strong greedy ms | strong samples ms |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {name} | {r['prompts']} | {r['seconds']:.0f} | {r['prompts_per_minute']:.2f} | "
          f"{r['weak_greedy_ms']:.0f} | {r['weak_sample_ms']:.0f} | {r['strong_greedy_ms']:.0f} | "
          f"{r['strong_sample_ms']:.0f} |" for name, r in runs.items()),
        "",
        f"Now / before: **{ratio:.2f}×** (target ≥ 1.5×: {'met' if ratio >= 1.5 else 'missed'}); batching the "
        f"samples alone: {batched_only / before:.2f}×.",
        "",
        "Each side's greedy answer includes the prompt's prefill (the samples then reuse its cache; the strong "
        "side's times are the HTTP requests to the stand-in). Now the two greedy answers take "
        f"{greedy_share:.0%} of a prompt's time: batching speeds up only the samples, and prefill, slow on these "
        "two cores (`local_models.md`), is most of a short answer's cost. Grouping by kind keeps the tokens a "
        "prompt's system prompt shares with the previous one from being prefilled again.",
    ]
    (RESULTS / "label_throughput.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
