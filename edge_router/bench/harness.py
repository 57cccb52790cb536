"""What routing costs on this machine, next to the local model and the cloud call, in one run.

Every section returns plain dicts of numbers (ms, tokens/s, MB) under stable
keys; ``run`` assembles them with the environment and the target verdicts.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import settings
from ..backends.cloud_llm import CloudLLM
from ..backends.embedder import Embedder, load_tokenizer
from ..backends.local_llm import LocalLLM
from ..backends.router_model import RouterModel
from ..files import model_store, registry
from ..files.onnx_session import import_onnxruntime, save_folded
from ..metrics import spearman
from ..routing.runtime import EdgeRouter
from ..uncertainty.clustering import EmbeddingClusterer
from ..uncertainty.semantic_entropy import UncertaintyGate
from . import environment
from .prompts import make_prompts, sample_questions
from .standin import MODEL_ALIAS, StandinServer
from .stats import repeat, summarize


@dataclass(frozen=True)
class Plan:
    """How much to measure. ``quick`` keeps the whole run under a minute."""

    lengths: tuple[int, ...]
    threads: tuple[int, ...]
    per_length: int
    reps: int
    warmup: int
    answer_tokens: int
    llm_reps: int
    cloud_reps: int
    gate_ks: tuple[int, ...]
    gate_tokens: int
    gate_reps: int

    @classmethod
    def full(cls) -> Plan:
        return cls((8, 32, 128, 512), (1, 2), 5, 200, 20, 64, 2, 10, (3, 5, 10), 48, 2)

    @classmethod
    def quick(cls) -> Plan:
        return cls((32,), (1, 2), 3, 30, 5, 64, 1, 3, (3, 5, 10), 12, 1)


@dataclass(frozen=True)
class EmbedderVariant:
    """One embedder model file, with a router file built for its id."""

    id: str
    model_path: Path
    router_path: Path
    description: str


def _router_for(embedder_id: str, dim: int, router_path: Path | None, workdir: Path) -> Path:
    if router_path is not None:
        return router_path
    from ..training.onnx_export import linear_router

    weights = np.random.default_rng(0).normal(scale=0.05, size=dim).astype(np.float32)
    return linear_router(workdir / f"router-{embedder_id}.onnx", weights, 0.0, embedder_id=embedder_id)


def embedder_variants(default: Embedder, router_path: Path | None, workdir: Path) -> list[EmbedderVariant]:
    """The default embedder, its float32 form (folded by onnxruntime here) and the re-quantized one we ship."""
    folded = save_folded(default.model_path, workdir / "minilm-fp32-folded.onnx")
    dyn_spec = registry.get_spec("all-minilm-l6-v2-onnx-dynint8")
    rows = [
        (default.id, default.model_path, "default: int8 weights, dequantized to float32 when the session loads"),
        ("all-minilm-l6-v2-onnx-fp32-folded", folded,
         "float32 (the default with its dequantization folded, built here)"),
        (dyn_spec.name, model_store.resolve(dyn_spec),
         "dynamic int8 (integer MatMul/Gather), shipped in models/embedders"),
    ]
    return [
        EmbedderVariant(id_, path, _router_for(id_, default.dim, router_path if id_ == default.id else None, workdir),
                        desc)
        for id_, path, desc in rows
    ]


def _direct_call(tokenizer, emb, rtr, text: str) -> None:
    enc = tokenizer.encode(text)
    ids = np.asarray([enc.ids], dtype=np.int64)
    mask = np.asarray([enc.attention_mask], dtype=np.int64)
    hidden = emb.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    rtr.run(None, {"embedding": pooled.astype(np.float32)})


def measure_decisions(plan: Plan, prompts: dict[int, list[str]], variant: EmbedderVariant, local: LocalLLM,
                      threads_list: tuple[int, ...], *, with_direct: bool = True) -> tuple[dict, dict]:
    """Decision latency by part through ``EdgeRouter.route``, per prompt length and thread count.

    With ``with_direct``, each timed decision alternates with the same input through
    onnxruntime and tokenizers alone (same files, same threads, default session
    options): the floor under the wrapper, measured under the same machine load.
    """
    ort = import_onnxruntime()
    decisions: dict = {}
    direct: dict = {}
    for threads in threads_list:
        embedder = Embedder(variant.model_path, model_id=variant.id, threads=threads)
        router = RouterModel(variant.router_path, embedder_id=embedder.id, dim=embedder.dim, threads=threads)
        unused_cloud = CloudLLM(base_url="http://127.0.0.1:9/v1", model="unused")  # without one, nothing is scored
        edge = EdgeRouter(local=local, cloud=unused_cloud, embedder=embedder, router=router, threshold=1.0,
                          max_tokens=plan.answer_tokens)
        tokenizer = load_tokenizer(embedder.tokenizer_path, embedder.max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        emb = ort.InferenceSession(str(variant.model_path), options, providers=["CPUExecutionProvider"])
        rtr = ort.InferenceSession(str(variant.router_path), options, providers=["CPUExecutionProvider"])
        per_len, direct_len = {}, {}
        for n, texts in prompts.items():
            parts: dict[str, list[float]] = {}
            direct_ms: list[float] = []
            for i in range(plan.warmup + plan.reps):
                text = texts[i % len(texts)]
                timings = edge.route(text).timings_ms
                t0 = time.perf_counter()
                if with_direct:
                    _direct_call(tokenizer, emb, rtr, text)
                elapsed = (time.perf_counter() - t0) * 1e3
                if i >= plan.warmup:
                    direct_ms.append(elapsed)
                    for part in ("tokenize", "embed", "score", "total"):
                        parts.setdefault(part, []).append(timings[part])
            probe = edge.route(texts[0])
            per_len[str(n)] = {
                **{part: summarize(values) for part, values in parts.items()},
                "routing_tokens": probe.routing_tokens,
                "routing_truncated": probe.routing_truncated,
            }
            direct_len[str(n)] = {"total": summarize(direct_ms)}
        decisions[f"threads_{threads}"] = per_len
        direct[f"threads_{threads}"] = direct_len
    return decisions, direct


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


def measure_cold_start_and_memory(variant: EmbedderVariant, runs: int) -> dict:
    """A fresh interpreter per run: import to first decision, then resident memory as models load."""
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


def compare_embedders(plan: Plan, prompts: dict[int, list[str]], variants: list[EmbedderVariant],
                      local: LocalLLM, default_cold: dict, questions: list[str]) -> dict:
    """Each embedder variant: decision p50 (32 tokens, 1 thread), memory, session creation, agreement."""
    quick32 = {32: prompts[32]} if 32 in prompts else {plan.lengths[0]: prompts[plan.lengths[0]]}
    n = str(next(iter(quick32)))
    reference = Embedder(variants[0].model_path, model_id=variants[0].id).embed(questions)
    out = {}
    for i, variant in enumerate(variants):
        decision = measure_decisions(plan, quick32, variant, local, (1,), with_direct=False)[0]["threads_1"][n]["total"]
        cold = default_cold if i == 0 else measure_cold_start_and_memory(variant, runs=1)
        vectors = Embedder(variant.model_path, model_id=variant.id).embed(questions)
        cos = (vectors * reference).sum(axis=1)
        sims_ref = (reference @ reference.T)[np.triu_indices(len(questions), 1)]
        sims = (vectors @ vectors.T)[np.triu_indices(len(questions), 1)]
        out[variant.id] = {
            "description": variant.description,
            "file_mb": variant.model_path.stat().st_size / 1e6,
            "decision_p50_ms": decision["p50"],
            "decision_p99_ms": decision["p99"],
            "create_sessions_ms": cold["cold_start_ms"]["create_sessions"],
            "embedder_and_router_mb": cold["memory_mb"]["embedder_and_router"],
            "cosine_to_default_mean": float(cos.mean()),
            "cosine_to_default_min": float(cos.min()),
            "similarity_rank_correlation": spearman(sims_ref, sims),
        }
    return out


def measure_local_llm(plan: Plan, prompts: dict[int, list[str]], local: LocalLLM) -> dict:
    """Time to first token, prefill and decode rates, and the time of a fixed-length answer."""
    out = {}
    for n, texts in prompts.items():
        rows = []
        for text in texts[: max(1, plan.llm_reps)]:
            local.clear_cache()
            prompt_tokens = len(local.prompt_tokens(text))
            t0 = time.perf_counter()
            first = None
            count = 0
            for _ in local.stream(text, max_tokens=plan.answer_tokens):
                count += 1
                if first is None:
                    first = time.perf_counter()
            end = time.perf_counter()
            ttft = (first - t0) * 1e3
            decode_rate = (count - 1) / (end - first) if count > 1 and end > first else float("nan")
            rows.append({"prompt_tokens": prompt_tokens, "ttft_ms": ttft, "answer_tokens": count,
                         "prefill_tok_s": prompt_tokens / (ttft / 1e3), "decode_tok_s": decode_rate,
                         "measured_ms": (end - t0) * 1e3,
                         # a model that stops early is extrapolated to the fixed length at its decode rate
                         "answer_ms": ttft + (plan.answer_tokens - 1) / decode_rate * 1e3})
        out[str(n)] = {k: float(np.nanmedian([r[k] for r in rows])) for k in rows[0]}
    return out


def _cloud_timings(cloud: CloudLLM, reps: int) -> dict:
    def call() -> None:
        cloud.chat("Name a colour.", max_tokens=16)

    rtt = repeat(call, reps=reps, warmup=1)
    ttft = []
    for _ in range(reps):
        t0 = time.perf_counter()
        pieces = iter(cloud.stream("Name a colour.", max_tokens=16))
        next(pieces)
        ttft.append((time.perf_counter() - t0) * 1e3)
        for _piece in pieces:
            pass
    return {"round_trip_ms": summarize(rtt), "first_token_ms": summarize(ttft)}


def measure_cloud(plan: Plan) -> dict:
    """Round trip and time to first streamed token against the loopback stand-in (and a real endpoint if set)."""
    out = {}
    with StandinServer(threads=1, n_ctx=512) as server:
        out["standin"] = _cloud_timings(CloudLLM(base_url=server.base_url, model=MODEL_ALIAS), plan.cloud_reps)
    if settings.cloud_setting(settings.CLOUD_BASE_URL_ENV):
        cloud = CloudLLM()
        out["configured"] = {"model": cloud.model, **_cloud_timings(cloud, plan.cloud_reps)}
    return out


def measure_gate(plan: Plan, prompt: str, local: LocalLLM, embedder: Embedder) -> dict:
    """The uncertainty gate's cost: k local samples plus embedding clustering."""
    out = {}
    for k in plan.gate_ks:
        gate = UncertaintyGate(EmbeddingClusterer(embedder), k=k, max_tokens=plan.gate_tokens)
        rows = []
        for _ in range(plan.gate_reps):
            t0 = time.perf_counter()
            _, se = gate.measure_entropy(local, [{"role": "user", "content": prompt}])
            rows.append({"total_ms": (time.perf_counter() - t0) * 1e3, "sample_ms": se.sample_ms,
                         "cluster_ms": se.cluster_ms})
        out[f"k_{k}"] = {key: float(np.median([r[key] for r in rows])) for key in rows[0]}
    return out


def _target(name: str, measured: float, limit: float, unit: str) -> dict:
    return {"name": name, "measured": measured, "limit": limit, "unit": unit, "met": measured <= limit,
            "ratio_to_limit": measured / limit}


def targets(results: dict) -> list[dict]:
    """The issue's targets, each met or missed with the measured ratio."""
    dec = results["decision"]["threads_1"]["32"]["total"]
    direct = results["direct_onnxruntime"]["threads_1"]["32"]["total"]
    shares = [
        results["decision"]["threads_1"][n]["total"]["p50"] / results["local_llm"][n]["answer_ms"] * 100
        for n in results["local_llm"]
    ]
    return [
        _target("wrapper overhead: decision p50 / direct onnxruntime p50 (32 tokens, 1 thread)",
                dec["p50"] / direct["p50"], 1.10, "x"),
        _target("decision p50, 32 tokens, 1 thread", dec["p50"], 12.0, "ms"),
        _target("decision p99 / p50, 32 tokens, 1 thread", dec["p99"] / dec["p50"], 2.0, "x"),
        _target("decision time as a share of the local answer (median over lengths, 64 tokens)",
                statistics.median(shares), 1.0, "%"),
        _target("cold start to first decision, files cached", results["cold_start"]["cold_start_ms"]["total"],
                500.0, "ms"),
        _target("resident memory added by embedder and router",
                results["cold_start"]["memory_mb"]["embedder_and_router"], 80.0, "MB"),
    ]


def run(*, quick: bool = False, router_path: Path | None = None, log=print) -> dict:
    """Measure every section in one process run and return the results tree."""
    plan = Plan.quick() if quick else Plan.full()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edge-router-bench-") as tmp:
        log("loading the local model and the embedder ...")
        local = LocalLLM()
        embedder = Embedder()
        variants = embedder_variants(embedder, router_path, Path(tmp))
        default = variants[0]
        prompts, source = make_prompts(embedder.tokenizer_path, list(plan.lengths), plan.per_length)
        router_desc = (f"{router_path.name} (given)" if router_path else
                       f"a {embedder.dim}->1 logistic router file (no trained router ships yet)")
        results: dict = {
            "schema": 1,
            "environment": environment.describe(),
            "plan": {**plan.__dict__, "quick": quick, "prompt_source": source, "router": router_desc,
                     "embedder": default.id},
        }
        log("decision latency, alternating with the direct onnxruntime baseline ...")
        results["decision"], results["direct_onnxruntime"] = measure_decisions(plan, prompts, default, local,
                                                                               plan.threads)
        log("cold start and memory (fresh interpreters) ...")
        results["cold_start"] = measure_cold_start_and_memory(default, runs=1 if quick else 3)
        log("embedder variants ...")
        questions = sample_questions(100)
        results["embedders"] = compare_embedders(plan, prompts, variants, local, results["cold_start"], questions)
        log("local model ...")
        results["local_llm"] = measure_local_llm(plan, prompts, local)
        log("cloud stand-in ...")
        results["cloud"] = measure_cloud(plan)
        log("uncertainty gate ...")
        results["gate"] = measure_gate(plan, prompts[32 if 32 in prompts else plan.lengths[0]][0], local, embedder)
    results["targets"] = targets(results)
    results["run_seconds"] = time.perf_counter() - started
    return results
