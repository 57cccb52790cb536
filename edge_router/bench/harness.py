"""What routing costs on this machine, next to the local model and the cloud call, in one run.

Every section returns plain dicts of numbers (ms, tokens/s, MB) under stable
keys; ``run`` assembles them with the environment and the target verdicts.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import defaults, settings
from ..backends.cloud_llm import CloudLLM
from ..backends.embedder import Embedder, load_tokenizer
from ..backends.local_llm import LocalLLM
from ..backends.router_model import RouterModel, trained_on
from ..files import registry
from ..files.onnx_session import import_onnxruntime
from ..files.shipped import shipped_router
from ..loopback.standin import MODEL_ALIAS, StandinServer
from ..metrics import spearman
from ..routing.runtime import EdgeRouter
from ..uncertainty.entailment import clusterer_named
from ..uncertainty.semantic_entropy import UncertaintyGate
from . import environment
from .cold_start import measure_cold_start_and_memory
from .encoder_quality import default_labels, routing_quality
from .prompts import make_prompts, sample_questions
from .session_options import measure_session_options
from .stats import repeat, summarize
from .targets import TEACHER, targets

DYNINT8 = "all-minilm-l6-v2-onnx-dynint8"


@dataclass(frozen=True)
class Plan:
    """How much to measure. ``quick`` keeps the whole run to a few minutes."""

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
    """One registered encoder, with a router file for its id and that router's quality (None without labels)."""

    id: str
    model_path: Path
    router_path: Path
    description: str
    quality: dict | None = None


def _linear_router(embedder: Embedder, workdir: Path) -> Path:
    from ..training.onnx_export import linear_router

    weights = np.random.default_rng(0).normal(scale=0.05, size=embedder.dim).astype(np.float32)
    return linear_router(workdir / f"router-{embedder.id}.onnx", weights, 0.0, embedder_id=embedder.id)


def encoder_variants(labels: Path | None, kind: str, workdir: Path, log=print) -> list[EmbedderVariant]:
    """Every registered encoder with a ``kind`` router trained on ``labels`` (a fixed linear one without)."""
    variants = []
    for spec in registry.specs_for_role("embedder"):
        embedder = Embedder(name=spec.name)
        if labels is None:
            router_path, quality = _linear_router(embedder, workdir), None
        else:
            log(f"  training a {kind} router on {embedder.id} embeddings ...")
            router_path, quality = routing_quality(embedder, labels, kind, workdir / spec.name)
        variants.append(EmbedderVariant(spec.name, embedder.model_path, router_path, spec.description, quality))
    return variants


class _DirectEncoder:
    """The encoder file called without edge-router: onnxruntime (or the numpy table) and mean pooling."""

    def __init__(self, path: Path, ort, options):
        self._table = np.load(path, mmap_mode="r") if path.suffix == ".npy" else None
        self._session = None if self._table is not None else ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._table is not None:
            return self._table[ids[0]].sum(axis=0, dtype=np.float32)[None, :]
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        return (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)


def _direct_call(tokenizer, encoder: _DirectEncoder, rtr, text: str) -> None:
    enc = tokenizer.encode(text)
    ids = np.asarray([enc.ids], dtype=np.int64)
    pooled = encoder(ids, np.asarray([enc.attention_mask], dtype=np.int64))
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
        encoder = _DirectEncoder(variant.model_path, ort, options)
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
                    _direct_call(tokenizer, encoder, rtr, text)
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


def compare_encoders(plan: Plan, prompts: dict[int, list[str]], variants: list[EmbedderVariant],
                     local: LocalLLM, questions: list[str], cold: dict[str, dict]) -> dict:
    """Each encoder: decision p50/p99 at 8, 32 and 128 tokens (1 thread), cold start, memory, size, quality."""
    lengths = {n: texts for n, texts in prompts.items() if n in (8, 32, 128)} or prompts
    teacher = Embedder(name=TEACHER).embed(questions)
    upper = np.triu_indices(len(questions), 1)
    out = {}
    for variant in variants:
        decisions, direct = measure_decisions(plan, lengths, variant, local, (1,))
        vectors = Embedder(variant.model_path, model_id=variant.id).embed(questions)
        out[variant.id] = {
            "description": variant.description,
            "file_mb": variant.model_path.stat().st_size / 1e6,
            "decision_ms": {n: {"p50": cell["total"]["p50"], "p99": cell["total"]["p99"],
                                "direct_p50": direct["threads_1"][n]["total"]["p50"]}
                            for n, cell in decisions["threads_1"].items()},
            "cold_start_ms": cold[variant.id]["cold_start_ms"]["total"],
            "create_sessions_ms": cold[variant.id]["cold_start_ms"]["create_sessions"],
            "embedder_and_router_mb": cold[variant.id]["memory_mb"]["embedder_and_router"],
            "similarity_rank_correlation_to_teacher": spearman((teacher @ teacher.T)[upper],
                                                               (vectors @ vectors.T)[upper]),
            "quality": variant.quality,
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


def measure_gate(plan: Plan, prompts: list[str], local: LocalLLM, embedder: Embedder) -> dict:
    """The uncertainty gate's cost: k local samples plus clustering, with the default clusterer at the default
    sample length and at ``plan.gate_tokens`` (the length the gate used before its calibration), each of
    ``prompts`` ``plan.gate_reps`` times; medians, and the samples' mean length in tokens."""
    clusterer = clusterer_named(defaults.CLUSTERER, embedder)
    out = {}
    for tokens in sorted({defaults.GATE_MAX_TOKENS, plan.gate_tokens}):
        for k in plan.gate_ks:
            gate = UncertaintyGate(clusterer, k=k, max_tokens=tokens)
            rows = []
            for prompt in prompts:
                for _ in range(plan.gate_reps):
                    t0 = time.perf_counter()
                    _, se = gate.measure_entropy(local, [{"role": "user", "content": prompt}])
                    rows.append({"total_ms": (time.perf_counter() - t0) * 1e3, "sample_ms": se.sample_ms,
                                 "cluster_ms": se.cluster_ms,
                                 "sample_tokens": float(np.mean([len(x.token_logprobs) for x in se.samples]))})
            out[f"k_{k}_tokens_{tokens}"] = {key: float(np.median([r[key] for r in rows])) for key in rows[0]}
            out[f"k_{k}_tokens_{tokens}"]["runs"] = len(rows)
    return out


def measure_sampling(plan: Plan, prompt: str, local: LocalLLM) -> dict:
    """k samples one after another against k in one batch (alternating), against one greedy answer of the
    same length; for the batch, where its time went (llama.cpp's decode against drawing and detokenizing)."""
    local.sample(prompt, 2, max_tokens=4)  # creates the batch context outside the timings
    tokens = plan.gate_tokens

    def timed(fn) -> tuple[float, int]:
        t0 = time.perf_counter()
        n = fn()
        return time.perf_counter() - t0, n

    one = [timed(lambda: local.chat(prompt, max_tokens=tokens).usage.completion_tokens) for _ in range(plan.gate_reps)]
    one_rate = float(np.median([n / t for t, n in one]))
    out: dict = {"tokens": tokens, "one_answer_tok_s": one_rate, "one_answer_s": float(np.median([t for t, _ in one]))}
    for k in plan.gate_ks:
        runs: dict[str, list] = {"sequential": [], "batched": []}
        splits = []
        for _ in range(plan.gate_reps):
            for path in ("sequential", "batched"):
                runs[path].append(timed(lambda: sum(len(s.token_logprobs) for s in local.sample(
                    prompt, k, max_tokens=tokens, batched=path == "batched"))))
                if path == "batched":
                    splits.append(local.batch_timing)
        cell = {}
        for path, rows in runs.items():
            rate = float(np.median([n / t for t, n in rows]))
            cell[path] = {"tok_s": rate, "x_one_answer": rate / one_rate,
                          "seconds": float(np.median([t for t, _ in rows]))}
        steps = max(float(np.median([s["steps"] for s in splits])), 1.0)
        cell["batched"]["decode_ms_per_step"] = float(np.median([s["decode_ms"] for s in splits])) / steps
        cell["batched"]["other_ms_per_step"] = float(np.median([s["other_ms"] for s in splits])) / steps
        out[f"k_{k}"] = cell
    return out


def _router_kind(router_path: Path | None) -> str:
    card = router_path.with_suffix(".json") if router_path else None
    return json.loads(card.read_text(encoding="utf-8")).get("kind", "knn") if card and card.is_file() else "knn"


def run(*, quick: bool = False, router_path: Path | None = None, labels: Path | None = None,
        log=print) -> dict:
    """Measure every section in one process run and return the results tree.

    The default routing encoder is the one the router names (``router_path``, else the shipped router),
    else the registry's default embedder. Each registered encoder gets a router of the same kind
    trained on ``labels`` (default: the on-device pair's labels of a source checkout).
    """
    plan = Plan.quick() if quick else Plan.full()
    started = time.perf_counter()
    router_path = router_path or shipped_router()
    labels = labels or default_labels()
    kind = _router_kind(router_path)
    routing_id = (trained_on(router_path) if router_path else None) or registry.default_spec("embedder").name
    with tempfile.TemporaryDirectory(prefix="edge-router-bench-") as tmp:
        log("loading the local model, training a router per encoder ...")
        local = LocalLLM()
        variants = encoder_variants(labels, kind, Path(tmp), log)
        default = next(v for v in variants if v.id == routing_id)
        if router_path is not None:
            default = replace(default, router_path=router_path)
            variants = [default if v.id == routing_id else v for v in variants]
        embedder = Embedder(default.model_path, model_id=default.id)
        prompts, source = make_prompts(embedder.tokenizer_path, list(plan.lengths), plan.per_length)
        router_desc = (f"{router_path.name} ({kind}, trained on {routing_id})" if router_path else
                       f"a {kind} router trained here on {labels.name}" if labels else
                       f"a {embedder.dim}->1 logistic router file (no trained router ships)")
        results: dict = {
            "schema": 2,
            "environment": environment.describe(),
            "plan": {**plan.__dict__, "quick": quick, "prompt_source": source, "router": router_desc,
                     "embedder": default.id, "router_kind": kind, "labels": labels.name if labels else None},
        }
        log("decision latency, alternating with the direct call ...")
        results["decision"], results["direct_onnxruntime"] = measure_decisions(plan, prompts, default, local,
                                                                               plan.threads)
        log("cold start and memory (fresh interpreters) ...")
        cold = {v.id: measure_cold_start_and_memory(v, runs=1 if quick else 3) for v in variants}
        results["cold_start"] = cold[default.id]
        log("encoders side by side ...")
        questions = sample_questions(100)
        results["encoders"] = compare_encoders(plan, prompts, variants, local, questions, cold)
        log("onnxruntime session options ...")
        results["session_options"] = measure_session_options(DYNINT8, runs=1 if quick else 3)
        log("local model ...")
        results["local_llm"] = measure_local_llm(plan, prompts, local)
        log("cloud stand-in ...")
        results["cloud"] = measure_cloud(plan)
        log("k samples, one after another and in one batch ...")
        results["sampling"] = measure_sampling(plan, prompts[32 if 32 in prompts else plan.lengths[0]][0], local)
        log("uncertainty gate ...")
        results["gate"] = measure_gate(plan, prompts[32 if 32 in prompts else plan.lengths[0]], local, embedder)
    results["targets"] = targets(results)
    results["run_seconds"] = time.perf_counter() - started
    return results
