"""Cold start and resident memory of the decision, each run in a fresh interpreter."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

_COLD_START = r"""
import json, resource, sys, time
def rss():
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * __import__("os").sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
before = rss()
t0 = time.perf_counter()
import edge_router
t1 = time.perf_counter()
from edge_router.files import model_store, registry
tokenizer = model_store.resolve(registry.default_spec("tokenizer"))
model = model_store.resolve(registry.default_spec("embedder"), sys.argv[2])
t2 = time.perf_counter()
from edge_router import CloudLLM, EdgeRouter, Embedder, RouterModel
import numpy, onnxruntime, requests, tokenizers
libraries = rss()
embedder = Embedder(model, tokenizer, model_id=sys.argv[3])
router = RouterModel(sys.argv[1], embedder_id=embedder.id, dim=embedder.dim)
edge = EdgeRouter(cloud=CloudLLM(base_url="http://127.0.0.1:9/v1", model="unused"), embedder=embedder, router=router)
t3 = time.perf_counter()
edge.route("What is the capital of France?")
t4 = time.perf_counter()
after_router = rss()
from edge_router import LocalLLM
LocalLLM()
after_llm = rss()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
print(json.dumps({
    "cold_start_ms": {"import": (t1 - t0) * 1e3, "resolve_files": (t2 - t1) * 1e3,
                      "create_sessions": (t3 - t2) * 1e3, "first_decision": (t4 - t3) * 1e3,
                      "total": (t4 - t0) * 1e3},
    "memory_mb": {"before_loading": before, "libraries": libraries - before,
                  "models_and_sessions": after_router - libraries, "after_embedder_and_router": after_router,
                  "after_local_llm": after_llm, "peak": peak,
                  "embedder_and_router": after_router - before},
}))
"""


def measure_cold_start_and_memory(variant: Any, runs: int) -> dict:
    """``variant``: an ``EmbedderVariant`` (its router file, model file and id)."""
    # A fresh interpreter per run: import to first decision, then resident memory as models load."""
    results = []
    for _ in range(runs):
        args = [str(variant.router_path), str(variant.model_path), variant.id]
        done = subprocess.run([sys.executable, "-c", _COLD_START, *args], capture_output=True,
                              text=True, timeout=300, env=os.environ.copy())
        if done.returncode != 0:
            raise RuntimeError(f"cold-start probe failed:\n{done.stderr[-2000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    cold = {k: statistics.median(r["cold_start_ms"][k] for r in results) for k in results[0]["cold_start_ms"]}
    memory = {k: statistics.median(r["memory_mb"][k] for r in results) for k in results[0]["memory_mb"]}
    return {"cold_start_ms": cold, "memory_mb": memory, "runs": runs}
