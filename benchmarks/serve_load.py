"""A soak of `edge-router serve` over loopback: 500 requests, 16 at a time, half forced to each route, every
fourth request streamed, with faults injected into the cloud side.

The local model is the tiny SmolLM2-135M (this measures the server and its fallbacks, not the models); the cloud
is the misbehaving loopback server of ``edge_router.loopback.fault_server``, whose answers are drawn from a seeded
mix: mostly fine, some 500s, 429s with Retry-After, malformed bodies, hangs past the cloud deadline and streams
cut halfway. Every request must end in an answer (possibly degraded) or a clear error; the report gives
answered, degraded, errors, p50/p99 latency per route, and the server process's resident memory before and
after. Prints and writes benchmarks/results/serve_load.{md,json}.

    python benchmarks/serve_load.py [--requests 500] [--concurrency 16] [--max-tokens 8] [--fault-share 0.3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from edge_router import CloudLLM, EdgeRouter, ExactMatchClusterer, LocalLLM, UncertaintyGate
from edge_router.bench import environment
from edge_router.loopback.fault_server import CloudServer
from edge_router.loopback.in_process import serving
from edge_router.loopback.load import run_load
from edge_router.serving.server import create_app

RESULTS = Path(__file__).parent / "results"
TINY = "smollm2-135m-instruct-q4_1"
FAULTS = ("500", "429", "malformed", "hang", "cut")
RSS_GROWTH_BOUND_MB = 50


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--fault-share", type=float, default=0.3)
    args = parser.parse_args()
    rng = random.Random(0)
    cloud_server = CloudServer().start()
    cloud_server.hang_seconds = 4.0
    cloud_server.behaviours.extend(rng.choice(FAULTS) if rng.random() < args.fault_share else "ok"
                                   for _ in range(4 * args.requests))
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", deadline_s=2.0, first_byte_s=2.0, backoff_base=0.05)
    local = LocalLLM(TINY, threads=2)
    router = EdgeRouter(local=local, cloud=cloud, gate=UncertaintyGate(ExactMatchClusterer()))
    before = rss_mb()
    try:
        with serving(create_app(router)) as base_url:
            result = run_load(base_url, requests_total=args.requests, concurrency=args.concurrency,
                              max_tokens=args.max_tokens)
            after = rss_mb()
    finally:
        cloud_server.stop()
    summary = result["summary"]
    summary.update(rss_before_mb=before, rss_after_mb=after, breaker=router.breaker.state(),
                   faults_injected=sum(r["behaviour"] != "ok" for r in cloud_server.requests),
                   cloud_requests=len(cloud_server.requests))
    rows = result["rows"]
    answered = [r for r in rows if r["ok"]]
    summary["degraded"] = sum(bool(r["degraded"]) for r in answered)
    env = environment.describe()
    lines = [
        "# Soak of `edge-router serve` (loopback, faults injected)",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; commit `{env['commit']}`. {args.requests} requests, "
        f"{args.concurrency} at a time, half forced local ({TINY}, llama.cpp) and half forced to the cloud: the "
        f"loopback fault server, {args.fault_share:.0%} of its answers faulty ({', '.join(FAULTS)}; hangs of "
        f"4 s against a 2 s cloud deadline), answers of at most {args.max_tokens} tokens.",
        "",
        f"- answered: {len(answered)} of {args.requests} ({summary['degraded']} degraded: the local model answered "
        "in the cloud's place)",
        f"- errors: {summary['errors']}" + (f" (e.g. {summary['error_samples'][0]})" if summary["errors"] else ""),
        f"- cloud requests {summary['cloud_requests']}, faults injected {summary['faults_injected']}; breaker at the "
        f"end: {summary['breaker']['state']}",
        f"- throughput: {summary['throughput_rps']:.2f} requests/s over {summary['seconds']:.1f} s",
    ]
    for route in ("local", "cloud"):
        ms = summary[f"{route}_ms"]
        if ms:
            lines.append(f"- forced {route}: p50 {ms['p50']:.0f} ms, p99 {ms['p99']:.0f} ms (n = {ms['n']})")
    growth = after - before
    verdict = "met" if growth <= RSS_GROWTH_BOUND_MB else "MISSED"
    lines += [f"- resident memory of the serving process: {before:.0f} MB before, {after:.0f} MB after "
              f"({growth:+.0f} MB; bound {RSS_GROWTH_BOUND_MB} MB: {verdict})",
              "", "The local model answers one request at a time, so local requests queue behind each other and "
              "behind the cloud fallbacks.", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.md").write_text("\n".join(lines), encoding="utf-8")
    (RESULTS / "serve_load.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 1 if summary["errors"] or growth > RSS_GROWTH_BOUND_MB else 0


if __name__ == "__main__":
    sys.exit(main())
