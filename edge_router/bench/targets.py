"""The benchmark's targets for the default routing encoder, each met or missed with the measured ratio."""

from __future__ import annotations

import statistics

TEACHER = "all-minilm-l6-v2-onnx-int8"  # the MiniLM the other encoders are built from


def _target(name: str, measured: float, limit: float, unit: str, *, at_least: bool = False) -> dict:
    return {"name": name, "measured": measured, "limit": limit, "unit": unit, "at_least": at_least,
            "met": measured >= limit if at_least else measured <= limit, "ratio_to_limit": measured / limit}


def targets(results: dict) -> list[dict]:
    """The issues' targets for the default routing encoder, each met or missed with the measured ratio."""
    dec = results["decision"]["threads_1"]["32"]["total"]
    direct = results["direct_onnxruntime"]["threads_1"]["32"]["total"]
    shares = [
        results["decision"]["threads_1"][n]["total"]["p50"] / results["local_llm"][n]["answer_ms"] * 100
        for n in results["local_llm"]
    ]
    out = [
        _target("wrapper overhead: decision p50 / direct call p50 (32 tokens, 1 thread)",
                dec["p50"] / direct["p50"], 1.10, "x"),
        _target("decision p50, 32 tokens, 1 thread", dec["p50"], 3.0, "ms"),
        _target("stretch: decision p50, 32 tokens, 1 thread", dec["p50"], 1.0, "ms"),
        _target("decision p99 / p50, 32 tokens, 1 thread", dec["p99"] / dec["p50"], 2.0, "x"),
        _target("decision time as a share of the local answer (median over lengths, 64 tokens)",
                statistics.median(shares), 1.0, "%"),
        _target("cold start to first decision, files cached", results["cold_start"]["cold_start_ms"]["total"],
                200.0, "ms"),
        _target("resident memory added by embedder and router",
                results["cold_start"]["memory_mb"]["embedder_and_router"], 60.0, "MB"),
    ]
    for k, floor in ((5, 1.5), (10, 2.0)):
        cell = results["sampling"].get(f"k_{k}")
        if cell:
            out.append(_target(f"{k} samples in one batch: token throughput / one answer's",
                               cell["batched"]["x_one_answer"], floor, "x", at_least=True))
    encoders = results["encoders"]
    default, teacher = encoders[results["plan"]["embedder"]]["quality"], encoders[TEACHER]["quality"]
    if default and teacher and default["apgr_mean"] is not None and teacher["apgr_mean"] is not None:
        out.append(_target(f"routing APGR below the {TEACHER} router's (same labels and kind, mean over "
                           f"{', '.join(default['apgr'])})", teacher["apgr_mean"] - default["apgr_mean"], 0.01, ""))
    return out
