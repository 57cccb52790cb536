"""The outcome job on Ray against the plain job: ``benchmarks/results/scale_outcomes.md`` and ``.json``.

The same MMLU questions (the first of the outcome job's fixed set, ``benchmarks/local_models.questions``) answered
by the on-device model (Qwen2.5-Coder-0.5B, one letter each) three ways, each into a fresh work file: the plain
job on one thread, Ray with one actor of one thread, Ray with two actors of one thread each, in groups of
``--group`` questions (one Ray task each). Ray's overhead per question is the one-actor run's wall time less the
answering time its rows record. Run it on a quiet machine (pause other jobs).

    python benchmarks/scale_outcomes.py [--questions 24] [--group 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from local_models import questions

from edge_router.backends.local_llm import LocalLLM
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.data.local_outcomes import answer_paired, read_outcomes
from edge_router.files import registry
from edge_router.scale.ray_outcomes import answer_on_ray

RESULTS = Path(__file__).resolve().parent / "results"


def comparable(path: Path) -> dict:
    return {key: {k: v for k, v in row.items() if k != "ms"} for key, row in read_outcomes(path).items()}


def measure(n_questions: int, group: int) -> dict:
    model = registry.default_spec("local-llm").name
    prompts = [p for p in questions() if p.dataset == "mmlu"][:n_questions]
    runs, files = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        name = "plain, 1 thread"
        files[name] = Path(tmp) / "plain.jsonl"
        started = time.perf_counter()
        llm = LocalLLM(model, threads=1, repeat_penalty=1.0, n_ctx=4096)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        answer_paired(prompts, [llm], {model: files[name]}, chunk=group)
        runs[name] = {"seconds": time.perf_counter() - started, "startup_seconds": loaded, "actors": 0}
        llm.close()
        for actors in (1, 2):
            name = f"Ray, {actors} actor{'s' if actors > 1 else ''} × 1 thread"
            files[name] = Path(tmp) / f"ray{actors}.jsonl"
            summary = answer_on_ray(prompts, {model: model}, {model: files[name]}, actors=actors, chunk=group)
            runs[name] = {"seconds": summary["seconds"], "startup_seconds": summary["startup_seconds"],
                          "actors": actors}
        plain = comparable(files["plain, 1 thread"])
        for name, path in files.items():
            runs[name]["identical_rows"] = comparable(path) == plain
            runs[name]["compute_seconds"] = sum(r["ms"] for r in read_outcomes(path).values()) / 1e3
    n = len(prompts)
    for run in runs.values():
        run["questions_per_minute"] = n / run["seconds"] * 60
    one, two = runs["Ray, 1 actor × 1 thread"], runs["Ray, 2 actors × 1 thread"]
    overhead = (one["seconds"] - one["compute_seconds"]) / n
    return {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "environment": environment.describe(), "model": model, "questions": n, "group": group, "runs": runs,
            "ray_overhead_s_per_question": overhead, "overhead_share": overhead / (one["compute_seconds"] / n),
            "two_actor_speedup": two["questions_per_minute"] / one["questions_per_minute"]}


def render(report: dict) -> list[str]:
    runs, n, env = report["runs"], report["questions"], report["environment"]
    one, two = runs["Ray, 1 actor × 1 thread"], runs["Ray, 2 actors × 1 thread"]
    lines = ["# The outcome job on Ray", "",
             f"Generated {report['generated']} by `benchmarks/scale_outcomes.py` on {env['cpu']} ({env['cores']} "
             f"cores), other jobs paused. {n} MMLU questions of the outcome job's fixed set answered by "
             f"{report['model']} (one letter each: the work is the prompt's prefill), {report['group']} questions "
             "a Ray task.", "",
             "| run | start, s | answering, s | questions per minute | one question's compute, s (from the rows) | "
             "rows equal to the plain job's (time aside) |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['startup_seconds']:.1f} | {r['seconds']:.1f} | {r['questions_per_minute']:.1f} | "
              f"{r['compute_seconds'] / n:.2f} | {'yes' if r['identical_rows'] else 'NO'} |"
              for name, r in runs.items()]
    lines += ["", f"Two actors answer {report['two_actor_speedup']:.2f}× the questions per minute of one; each "
              f"question's compute takes {two['compute_seconds'] / one['compute_seconds']:.2f}× as long with two "
              "(the two processes share the memory bus and the cache on two cores). Ray's overhead: "
              f"{report['ray_overhead_s_per_question']:.3f} s a question, {100 * report['overhead_share']:.2f} % of "
              "its compute. Nodes do not share cores: N nodes of this kind would answer about "
              + ", ".join(f"{two['questions_per_minute'] * nodes:.0f} (N = {nodes})" for nodes in (1, 4, 16))
              + " such questions a minute (measured on one node only)."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--group", type=int, default=4)
    args = parser.parse_args()
    report = measure(args.questions, args.group)
    write_json(report, RESULTS / "scale_outcomes.json")
    lines = render(report)
    (RESULTS / "scale_outcomes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
