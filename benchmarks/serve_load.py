"""Load on `edge-router serve` over loopback: 200 requests, 8 at a time, half forced to each route.

Local and stand-in model: the tiny SmolLM2-135M both (this measures the server, not the models).
Prints and writes benchmarks/results/serve_load.{md,json}:
errors, p50/p95 latency per route and throughput, with the machine named.

    python benchmarks/serve_load.py [--requests 200] [--concurrency 8] [--max-tokens 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import uvicorn

from edge_router import CloudLLM, EdgeRouter
from edge_router.bench import environment
from edge_router.bench.load import run_load
from edge_router.bench.standin import MODEL_ALIAS, StandinServer, free_port
from edge_router.serving.server import create_app

RESULTS = Path(__file__).parent / "results"


TINY = "smollm2-135m-instruct-q4_1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()
    with StandinServer(TINY, threads=1, n_ctx=512) as standin:
        router = EdgeRouter.from_defaults(mode="gate", local_model=TINY,
                                          cloud=CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(router), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            result = run_load(f"http://127.0.0.1:{port}", requests_total=args.requests,
                              concurrency=args.concurrency, max_tokens=args.max_tokens)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    summary = result["summary"]
    env = environment.describe()
    lines = [
        "# Load on `edge-router serve` (loopback)",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; commit `{env['commit']}`. {args.requests} requests, "
        f"{args.concurrency} at a time, half forced local ({TINY}, llama.cpp) and half forced to the loopback cloud "
        f"stand-in (the same model), answers of at most {args.max_tokens} tokens.",
        "",
        f"- errors: {summary['errors']}",
        f"- throughput: {summary['throughput_rps']:.2f} requests/s over {summary['seconds']:.1f} s",
    ]
    for route in ("local", "cloud"):
        ms = summary[f"{route}_ms"]
        if ms:
            lines.append(f"- {route}: p50 {ms['p50']:.0f} ms, p95 {ms['p95']:.0f} ms (n = {ms['n']})")
    lines += ["", "The local model answers one request at a time; cloud-bound requests wait only for the stand-in, "
              "which itself serves one at a time here.", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.md").write_text("\n".join(lines), encoding="utf-8")
    (RESULTS / "serve_load.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
