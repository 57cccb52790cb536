"""Labelling on Ray against the plain job: ``benchmarks/results/scale.md`` and ``.json``.

The same prompts (short-answer training prompts) labelled by the on-device model (Qwen2.5-Coder-0.5B, k = 5 samples
of 32 tokens, the local side only: the cloud side waits on the network, not on these cores) three ways, each into a
fresh file: the plain job on one thread, Ray with one actor of one thread, Ray with two actors of one thread each.
Times are the labelling's, with each run's start (the model loaded; for Ray, its workers started too) beside
them. Ray's overhead per prompt is the one-actor run's wall time less the labelling time its rows record; the
projection for N nodes multiplies the measured per-actor rate. Run it on a quiet
machine (pause other jobs): two CPU-heavy jobs at once measure neither.

    python benchmarks/scale.py [--prompts 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from edge_router.backends.local_llm import LocalLLM
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.data import datasets
from edge_router.files import registry
from edge_router.scale.ray_labelling import WorkerSpec, connect, label_on_ray
from edge_router.training.labels import LabelConfig, label_prompts, read_rows
from edge_router.uncertainty.clustering import ExactMatchClusterer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CONFIG = LabelConfig(k=5, max_tokens=32, seed=0)
TIMINGS = ("greedy_ms", "sample_ms", "cluster_ms")


def compute_seconds(path: Path) -> float:
    """The labelling time the rows record (greedy answer, samples, clustering): the work itself, without dispatch."""
    return sum(r["weak"][k] for r in read_rows(path) for k in TIMINGS) / 1e3


def comparable(path: Path) -> list[str]:
    rows = read_rows(path)
    for r in rows:
        for side in ("weak", "strong"):
            for k in TIMINGS:
                r[side].pop(k, None)
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def measure(n_prompts: int) -> dict:
    """Label the prompts the three ways; every figure the page shows."""
    model = registry.default_spec("local-llm").name
    prompts = [p for name in ("nq-open", "triviaqa", "mawps") for p in datasets.load(name, limit=n_prompts // 3)]
    runs, files = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        weak = LocalLLM(model, threads=1, repeat_penalty=1.0)
        loaded = time.perf_counter() - started
        files["plain, 1 thread"] = Path(tmp) / "plain.jsonl"
        summary = label_prompts(prompts, files["plain, 1 thread"], weak=weak, strong=None,
                                clusterer=ExactMatchClusterer(), config=CONFIG, progress=False)
        runs["plain, 1 thread"] = {"seconds": summary["seconds"], "startup_seconds": loaded, "actors": 0}
        weak.close()
        connect("local")
        for actors in (1, 2):
            name = f"Ray, {actors} actor{'s' if actors > 1 else ''} × 1 thread"
            files[name] = Path(tmp) / f"ray{actors}.jsonl"
            summary = label_on_ray(prompts, files[name], spec=WorkerSpec(model, threads=1, config=CONFIG),
                                   actors=actors, progress=False)
            runs[name] = {"seconds": summary["seconds"], "startup_seconds": summary["startup_seconds"],
                          "actors": actors, "replaced": summary["actors_replaced"]}
        identical = {name: comparable(path) == comparable(files["plain, 1 thread"]) for name, path in files.items()}
        for name, path in files.items():
            runs[name]["compute_seconds"] = compute_seconds(path)
    n = len(prompts)
    for run in runs.values():
        run["prompts_per_minute"] = n / run["seconds"] * 60
    plain, one, two = (runs[k] for k in runs)
    overhead = (one["seconds"] - one["compute_seconds"]) / n  # Ray's dispatch: wall time the rows do not account for
    speedup = two["prompts_per_minute"] / one["prompts_per_minute"]
    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), "model": model, "prompts": n, "config": CONFIG.__dict__,
              "runs": runs, "identical_rows": identical, "ray_overhead_s_per_prompt": overhead,
              "overhead_share": overhead / (one["compute_seconds"] / n), "two_actor_speedup": speedup,
              "compute_per_prompt_s": {name: r["compute_seconds"] / n for name, r in runs.items()}}
    return report


def render(report: dict) -> list[str]:
    """The page's lines from ``report``."""
    runs, identical, n, model = report["runs"], report["identical_rows"], report["prompts"], report["model"]
    one, two = runs["Ray, 1 actor × 1 thread"], runs["Ray, 2 actors × 1 thread"]
    speedup, overhead = report["two_actor_speedup"], report["ray_overhead_s_per_prompt"]
    cores = report["environment"]["cores"]
    lines = ["# Labelling on Ray", "",
             f"Generated {report['generated']} by `benchmarks/scale.py` on {report['environment']['cpu']} "
             f"({cores} cores), other jobs paused. {n} short-answer training prompts (NQ-Open, TriviaQA, MAWPS) "
             f"labelled by {model}: k = {CONFIG.k} samples of {CONFIG.max_tokens} tokens, the local side only.", "",
             "| run | start, s | labelling, s | prompts per minute | one prompt's compute, s (from the rows) | rows "
             "equal to the plain job's (timings aside) |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['startup_seconds']:.1f} | {r['seconds']:.1f} | {r['prompts_per_minute']:.1f} | "
              f"{r['compute_seconds'] / n:.2f} | {'yes' if identical[name] else 'NO'} |" for name, r in runs.items()]
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|",
              f"| two actors of one thread ≥ 1.8× one actor of one thread | {speedup:.2f}× | "
              f"{'met' if speedup >= 1.8 else f'missed by {1.8 - speedup:.2f}×'} |",
              f"| Ray's overhead < 5 % of a prompt's labelling time | {overhead:.2f} s a prompt, "
              f"{100 * report['overhead_share']:.1f} % | {'met' if report['overhead_share'] < 0.05 else 'missed'} |",
              "| no row lost or written twice when an actor is killed mid-run | `tests/test_scale.py` kills one | "
              "tested |", "",
              "Ray's overhead is the one-actor run's wall time that its rows' own labelling times do not account for. "
              "Two actors on two cores: each prompt's compute takes "
              f"{two['compute_seconds'] / one['compute_seconds']:.2f}× as long as with one actor (the two processes "
              "share the memory bus and the last-level cache, and Ray's own processes run beside them), so two "
              f"actors can reach at most {2 * one['compute_seconds'] / two['compute_seconds']:.2f}× here.", "",
              "## Projection", "",
              f"This node labels {two['prompts_per_minute']:.1f} prompts a minute with two actors of one thread. "
              "Nodes do not share cores, so with the strong endpoint keeping up (`--cloud-concurrency` caps it), N "
              "nodes of this kind would label about "
              + ", ".join(f"{two['prompts_per_minute'] * nodes:.0f} (N = {nodes})" for nodes in (1, 4, 16))
              + " prompts a minute; measured here for one node only, with Ray's dispatch measured as above."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--render", action="store_true", help="only write the page again from scale.json")
    args = parser.parse_args()
    if args.render:
        report = json.loads((RESULTS / "scale.json").read_text(encoding="utf-8"))
    else:
        report = measure(args.prompts)
        write_json(report, RESULTS / "scale.json")
    lines = render(report)
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
