"""The benchmark harness: statistics, target verdicts, writers, and a real --quick run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edge_router import defaults
from edge_router.bench import harness, report
from edge_router.bench.stats import repeat, summarize


def test_percentiles_hand_computed():
    s = summarize([float(x) for x in range(1, 101)])
    assert s["p50"] == pytest.approx(50.5)
    assert s["p95"] == pytest.approx(95.05)
    assert s["p99"] == pytest.approx(99.01)
    assert (s["mean"], s["min"], s["n"]) == (50.5, 1.0, 100)
    with pytest.raises(ValueError):
        summarize([])


def test_warmup_calls_are_not_timed():
    calls = []
    samples = repeat(lambda: calls.append(1), reps=3, warmup=2)
    assert len(calls) == 5 and len(samples) == 3 and all(x >= 0 for x in samples)
    with pytest.raises(ValueError):
        repeat(lambda: None, reps=0, warmup=0)


def _cell(p50: float) -> dict:
    return {"p50": p50, "p95": p50 * 1.2, "p99": p50 * 1.5, "mean": p50, "min": p50 * 0.9, "n": 10}


def _quality(apgr: float) -> dict:
    per_benchmark = {"n": 20, "router": apgr, "random_mean": 0.5, "random_sd": 0.05}
    return {"kind": "knn", "labels": {"path": "labels.jsonl.gz", "rows": 100, "sizes": {"train": 70, "test": 15}},
            "auroc_strong_wins": 0.6, "auroc_local_wrong": 0.7, "apgr": {"gsm8k": per_benchmark, "mmlu": per_benchmark},
            "apgr_mean": apgr}


def fake_results(decision_p50: float = 11.0, direct_p50: float = 10.5) -> dict:
    per_len = {"32": {"tokenize": _cell(0.1), "embed": _cell(decision_p50 - 1), "score": _cell(0.05),
                      "total": _cell(decision_p50), "routing_tokens": 32, "routing_truncated": False}}
    results = {
        "schema": 1,
        "environment": {"cpu": "Test CPU", "cores": 2, "instruction_sets": ["avx2"], "os": "Linux",
                        "python": "3.11", "libraries": {"onnxruntime": "1.0"}, "commit": "abc123"},
        "plan": {**harness.Plan.quick().__dict__, "quick": True, "prompt_source": "built-in", "router": "test",
                 "embedder": "e1", "router_kind": "knn", "labels": "labels.jsonl.gz"},
        "decision": {"threads_1": per_len},
        "direct_onnxruntime": {"threads_1": {"32": {"total": _cell(direct_p50)}}},
        "cold_start": {"runs": 1, "cold_start_ms": {"import": 5.0, "resolve_files": 1.0, "create_sessions": 300.0,
                                                    "first_decision": 20.0, "total": 326.0},
                       "memory_mb": {"before_loading": 10.0, "libraries": 20.0, "models_and_sessions": 40.0,
                                     "after_embedder_and_router": 70.0,
                                     "after_local_llm": 200.0, "peak": 210.0, "embedder_and_router": 60.0}},
        "local_llm": {"32": {"prompt_tokens": 40.0, "ttft_ms": 50.0, "answer_tokens": 64.0, "prefill_tok_s": 800.0,
                             "decode_tok_s": 60.0, "measured_ms": 1100.0, "answer_ms": 1100.0}},
        "cloud": {"standin": {"round_trip_ms": _cell(300.0), "first_token_ms": _cell(40.0)}},
        "gate": {"k_3_tokens_16": {"total_ms": 900.0, "sample_ms": 880.0, "cluster_ms": 20.0, "sample_tokens": 6.5,
                                   "runs": 10}},
        "sampling": {"tokens": 12, "one_answer_tok_s": 30.0, "one_answer_s": 0.4, **{
            f"k_{k}": {"sequential": {"tok_s": 29.0, "x_one_answer": 29 / 30, "seconds": 0.4 * k},
                       "batched": {"tok_s": rate, "x_one_answer": rate / 30, "seconds": 12 * k / rate,
                                   "decode_ms_per_step": 90.0, "other_ms_per_step": 6.0}}
            for k, rate in ((5, 48.0), (10, 66.0))}},
        "encoders": {name: {"description": name, "file_mb": 22.9, "cold_start_ms": 326.0, "create_sessions_ms": 300.0,
                            "decision_ms": {"32": {"p50": decision_p50, "p99": 12.0, "direct_p50": direct_p50}},
                            "embedder_and_router_mb": 60.0, "similarity_rank_correlation_to_teacher": 1.0,
                            "quality": _quality(apgr)}
                     for name, apgr in (("e1", 0.55), (harness.TEACHER, 0.60))},
        "session_options": {"encoder": "e1", "runs": 1, "options": {"edge-router's settings": {
            "import_ms": 100.0, "create_ms": 80.0, "session_mb": 45.0, "run_p50_ms": 6.0}}},
        "run_seconds": 42.0,
    }
    results["targets"] = harness.targets(results)
    return results


def test_target_verdicts_follow_the_numbers():
    met = {t["name"].split(":")[0]: t for t in fake_results(11.0, 10.5)["targets"]}
    assert met["wrapper overhead"]["met"] and met["wrapper overhead"]["measured"] == pytest.approx(11 / 10.5)
    assert not met["decision p50, 32 tokens, 1 thread"]["met"], "the limit is 3 ms"
    apgr = next(t for name, t in met.items() if name.startswith("routing APGR below"))
    assert apgr["measured"] == pytest.approx(0.05) and not apgr["met"]
    assert met["decision time as a share of the local answer (median over lengths, 64 tokens)"]["met"]
    five, ten = met["5 samples in one batch"], met["10 samples in one batch"]
    assert five["measured"] == pytest.approx(1.6) and five["met"] and five["at_least"]
    assert ten["measured"] == pytest.approx(2.2) and ten["met"]
    assert {t["name"].split(":")[0]: t for t in fake_results(2.5, 2.4)["targets"]}[
        "decision p50, 32 tokens, 1 thread"]["met"]
    missed = {t["name"].split(":")[0]: t for t in fake_results(14.0, 10.0)["targets"]}
    assert not missed["wrapper overhead"]["met"] and missed["wrapper overhead"]["ratio_to_limit"] > 1
    assert not missed["decision p50, 32 tokens, 1 thread"]["met"]
    assert missed["decision time as a share of the local answer (median over lengths, 64 tokens)"]["measured"] == \
        pytest.approx(14.0 / 1100.0 * 100)


def test_writers_produce_json_markdown_and_png(tmp_path):
    results = fake_results(14.0, 10.0)
    path = report.write_json(results, tmp_path / "r.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(results))
    md = report.write_markdown(results, tmp_path / "r.md").read_text()
    assert "Test CPU" in md and "abc123" in md and "**missed**" in md and "Missed: wrapper overhead" in md
    assert "Missed: routing APGR" in md and "| **e1** (default): e1 |" in md and "edge-router's settings" in md
    assert "| 5 | batched | 48.0 | 1.60 |" in md and "≥ 1.50 x" in md
    assert "![decision latency vs prompt length](r.png)" in md
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_the_shared_data_the_quality_columns_say_so(tmp_path):
    results = fake_results(2.0, 1.9)
    for encoder in results["encoders"].values():
        encoder["quality"].update(apgr={}, apgr_mean=None)
    results["targets"] = harness.targets(results)
    assert not any(t["name"].startswith("routing APGR") for t in results["targets"])
    assert "n/a (no shared data)" in report.write_markdown(results, tmp_path / "r.md", with_plot=False).read_text()


REQUIRED = {
    "decision": None, "direct_onnxruntime": None, "cold_start": None, "local_llm": None, "cloud": None,
    "gate": None, "sampling": None, "encoders": None, "session_options": None, "targets": None, "environment": None,
    "plan": None, "run_seconds": None,
}


def _numbers(tree, path=""):
    if isinstance(tree, bool) or tree is None or isinstance(tree, str):
        return
    if isinstance(tree, (int, float)):
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _numbers(value, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _numbers(value, f"{path}[{i}]")


@pytest.mark.real_models
def test_quick_bench_writes_every_key_with_positive_figures(tmp_path):
    out = tmp_path / "bench.json"
    # The timeout guards against a hang only: on an AVX2-only machine the quick bench takes over 600 s.
    done = subprocess.run([sys.executable, "-m", "edge_router", "bench", "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(REQUIRED) <= set(results)
    assert set(results["decision"]) == {"threads_1", "threads_2"}
    for part in ("tokenize", "embed", "score", "total"):
        assert part in results["decision"]["threads_1"]["32"]
    lengths = {defaults.GATE_MAX_TOKENS, results["plan"]["gate_tokens"]}
    assert set(results["gate"]) == {f"k_{k}_tokens_{n}" for k in (3, 5, 10) for n in lengths}
    for key, cell in results["gate"].items():  # every prompt of the length, and samples within their limit
        assert cell["runs"] == results["plan"]["per_length"] * results["plan"]["gate_reps"]
        assert 0 < cell["sample_tokens"] <= int(key.rsplit("_", 1)[1])
    assert results["sampling"]["k_5"]["batched"]["decode_ms_per_step"] > 0
    assert {"import", "resolve_files", "create_sessions", "first_decision", "total"} == \
        set(results["cold_start"]["cold_start_ms"])
    figures = list(_numbers({k: v for k, v in results.items() if k not in ("plan", "targets")}))
    assert len(figures) > 50
    bad = [(p, v) for p, v in figures if not v > 0 and ".quality." not in p]  # an APGR may be below zero
    assert not bad, f"figures that are not positive: {bad[:5]}"
    from edge_router.data import datasets

    with_data = (datasets.data_dir() / "routellm_evals").is_dir()
    assert len(results["targets"]) == (10 if with_data else 9), "with the shared data, a routing-quality target"
    assert set(results["encoders"]) == {"all-minilm-l6-v2-onnx-int8", "all-minilm-l6-v2-onnx-dynint8",
                                        "minilm-l6-v2-static"}
    assert all(e["quality"]["labels"]["rows"] > 100 for e in results["encoders"].values())
    assert "met" in done.stdout or "MISSED" in done.stdout
