"""onnxruntime session options for an ONNX encoder, one at a time: load time, memory, speed.

Each option is measured in fresh interpreters against edge-router's own session settings
(``files.onnx_session.session_options``): the memory arena off, memory-pattern planning off,
thread spinning off, and a file optimised ahead of time (loaded with optimisation off).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

OPTIONS = ("edge-router's settings", "no memory arena", "no memory pattern", "no thread spinning",
           "optimised file, optimisation off at load")

_PROBE = r"""
import json, os, sys, time
import numpy as np
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
path, option = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
from edge_router.files.onnx_session import import_onnxruntime, session_options
ort = import_onnxruntime()
t1 = time.perf_counter()
before = rss()
options = session_options(threads=1)
if option == "no memory arena":
    options.enable_cpu_mem_arena = False
elif option == "no memory pattern":
    options.enable_mem_pattern = False
elif option == "no thread spinning":
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
elif option.startswith("optimised file"):
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
t2 = time.perf_counter()
ids = np.array([[101] + list(range(2000, 2030)) + [102]], np.int64)
feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
session.run(None, feeds)
times = []
for _ in range(100):
    t = time.perf_counter()
    session.run(None, feeds)
    times.append((time.perf_counter() - t) * 1e3)
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "create_ms": (t2 - t1) * 1e3,
                  "run_p50_ms": sorted(times)[50], "session_mb": rss() - before}))
"""


def measure_session_options(encoder: str, runs: int) -> dict:
    """Median over ``runs`` fresh interpreters of each option's import, creation, first-run memory and p50."""
    from ..files import model_store, registry
    from ..files.onnx_session import save_folded

    path = model_store.resolve(registry.get_spec(encoder))
    out = {"encoder": encoder, "runs": runs, "options": {}}
    with tempfile.TemporaryDirectory() as tmp:
        optimised = save_folded(path, Path(tmp) / "optimised.onnx", extended=True)
        for option in OPTIONS:
            target = optimised if option.startswith("optimised file") else path
            rows = []
            for _ in range(runs):
                done = subprocess.run([sys.executable, "-c", _PROBE, str(target), option], capture_output=True,
                                      text=True, timeout=300)
                if done.returncode != 0:
                    raise RuntimeError(f"session-option probe failed ({option}):\n{done.stderr[-2000:]}")
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            out["options"][option] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    return out
