"""Labelling throughput, k samples one after another against one batch, on the same prompts.

Labels the same ``--prompts`` training prompts (default 50, the first in labelling's hash order) twice into
throw-away files: once with every sample drawn one after another (the on-device model and the loopback
stand-in both sequential, as before batching), once with both sampling in one batch (the default). Prints
prompts per minute and the ratio, and writes ``benchmarks/results/label_throughput.{md,json}``. Run on a
quiet machine (about 15 minutes on two cores):

    python benchmarks/label_throughput.py [--prompts 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from edge_router import CloudLLM, ExactMatchClusterer, LocalLLM
from edge_router.bench import environment
from edge_router.bench.standin import MODEL_ALIAS, StandinServer
from edge_router.data import datasets
from edge_router.defaults import TRAINING_SETS
from edge_router.training.labels import LabelConfig, label_prompts, prompt_id

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
    for batched in (False, True):
        path = "batched" if batched else "sequential"
        with StandinServer(threads=args.threads, batched_sampling=batched) as standin, \
                tempfile.TemporaryDirectory() as tmp:
            weak = LocalLLM(threads=args.threads, seed=0, batched_sampling=batched)
            strong = CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS, deadline_s=300.0)
            summary = label_prompts(prompts, Path(tmp) / "labels.jsonl", weak=weak, strong=strong,
                                    clusterer=ExactMatchClusterer(), config=LabelConfig(), progress=False)
            weak.close()
        runs[path] = {"prompts": summary["labelled"], "seconds": summary["seconds"],
                      "prompts_per_minute": summary["prompts_per_minute"]}
        print(f"{path}: {runs[path]}", file=sys.stderr)
    ratio = runs["batched"]["prompts_per_minute"] / runs["sequential"]["prompts_per_minute"]
    env = environment.describe()
    result = {"environment": env, "runs": runs, "ratio": ratio, "target": 1.5}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "label_throughput.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# Labelling throughput: samples one after another vs one batch",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, {args.threads} threads per model; llama-cpp-python "
        f"{env['libraries'].get('llama-cpp-python')}; commit {env.get('commit')}. The same {len(prompts)} training "
        "prompts labelled twice (`edge-router label`'s defaults: k = 5 samples of at most 32 tokens per side, a "
        "greedy answer per side, exact clustering), the on-device Qwen2.5-Coder-0.5B and the loopback stand-in's "
        "Qwen2.5-Coder-1.5B on the same two cores.",
        "",
        "| sampling | prompts | seconds | prompts per minute |",
        "|---|---|---|---|",
        *(f"| {name} | {r['prompts']} | {r['seconds']:.0f} | {r['prompts_per_minute']:.2f} |"
          for name, r in runs.items()),
        "",
        f"Batched / sequential: **{ratio:.2f}×** (target ≥ 1.5×: {'met' if ratio >= 1.5 else 'missed'}).",
    ]
    (RESULTS / "label_throughput.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
