"""Write benchmark results as JSON (for scripts), Markdown (for people) and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import MissingDependencyError

WHY_MISSED = {
    "wrapper overhead": "the wrapper adds message validation, the local context check (the chat template) and the "
                        "Decision record on top of the two onnxruntime calls",
    "decision p50": "the default encoder itself costs about this much on one thread (the direct onnxruntime column "
                    "is within a few per cent of it), and this shared VM's speed drifts between runs; the "
                    "re-quantized dynamic-int8 embedder in the table below decides in about half the time",
    "decision p99": "scheduling noise on a shared 2-core machine; repeat on an idle machine",
    "decision time as a share": "the encoder's cost is large next to this small, fast local model",
    "cold start": "creating the default encoder's session dominates (see the split): onnxruntime expands its int8 "
                  "weights to float32 at load; the dynamic-int8 embedder below creates its sessions faster",
    "resident memory": "the default encoder stores int8 weights but onnxruntime expands them to float32 when the "
                       "session loads (about 170 MB); the shared libraries add about 55 MB. The re-quantized "
                       "dynamic-int8 embedder in the table below keeps its weights in int8",
}


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _fmt(x: float) -> str:
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.0f}"


def plot(results: dict, path: str | Path) -> Path:
    """Decision latency (p50, each thread count) against prompt length, beside the local answer time."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("The plot needs matplotlib: pip install 'edge-router[bench]'.") from exc
    lengths = sorted(int(n) for n in results["local_llm"])
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, per_len in results["decision"].items():
        ax.plot(lengths, [per_len[str(n)]["total"]["p50"] for n in lengths], marker="o",
                label=f"routing decision p50 ({key.replace('_', ' ')})")
    ax.plot(lengths, [results["local_llm"][str(n)]["answer_ms"] for n in lengths], marker="s",
            label=f"local answer ({results['plan']['answer_tokens']} tokens)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("prompt length (embedder tokens)")
    ax.set_ylabel("milliseconds (log)")
    ax.set_title(f"edge-router decision vs local answer — {results['environment']['cpu']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(results: dict, plot_name: str | None) -> str:
    env, plan = results["environment"], results["plan"]
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    out = [
        "# edge-router overhead benchmark",
        "",
        f"Machine: **{env['cpu']}**, {env['cores']} cores, instruction sets {', '.join(env['instruction_sets'])}; "
        f"{env['os']}; Python {env['python']}.",
        f"Libraries: {libs}. Commit: `{env['commit']}`. Run took {results['run_seconds']:.0f} s"
        f"{' (--quick)' if plan['quick'] else ''}.",
        f"Prompts: {plan['prompt_source']}; {plan['per_length']} per length. Router: {plan['router']}.",
        f"Decision latency: {plan['reps']} timed calls after {plan['warmup']} warm-up calls per cell, each "
        "followed by the same input through onnxruntime directly, so both see the same machine load (this "
        "shared VM's speed drifts by 10-30 % between runs). The routing window is 128 tokens, so longer "
        "prompts are truncated for routing (the answer gets them whole).",
        "",
        "## Targets",
        "",
        "| target | measured | limit | verdict |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        verdict = "met" if t["met"] else "**missed**"
        out.append(f"| {t['name']} | {_fmt(t['measured'])} {t['unit']} | {_fmt(t['limit'])} {t['unit']} | "
                   f"{verdict} ({t['ratio_to_limit']:.2f}× the limit) |")
    missed = [t for t in results["targets"] if not t["met"]]
    for t in missed:
        why = next((v for k, v in WHY_MISSED.items() if t["name"].startswith(k)), "see the tables below")
        out.append(f"\n- Missed: {t['name']}: {why}.")
    out += ["", "## Decision latency (ms)", "",
            "| threads | prompt tokens | routing tokens | tokenize p50 | embed p50 | score p50 | total p50 | "
            "total p95 | total p99 | direct onnxruntime p50 | wrapper ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, per_len in results["decision"].items():
        for n, cell in per_len.items():
            direct = results["direct_onnxruntime"][key][n]["total"]["p50"]
            truncated = " (truncated)" if cell["routing_truncated"] else ""
            out.append(
                f"| {key.split('_')[1]} | {n} | {cell['routing_tokens']}{truncated} | "
                f"{_fmt(cell['tokenize']['p50'])} | {_fmt(cell['embed']['p50'])} | {_fmt(cell['score']['p50'])} | "
                f"{_fmt(cell['total']['p50'])} | {_fmt(cell['total']['p95'])} | {_fmt(cell['total']['p99'])} | "
                f"{_fmt(direct)} | {cell['total']['p50'] / direct:.2f} |")
    if plot_name:
        out += ["", f"![decision latency vs prompt length]({plot_name})"]
    out += ["", "## Embedders compared (32-token prompts, 1 thread, each with a router file for its id)", "",
            "| embedder | file MB | decision p50 ms | decision p99 ms | create sessions ms | embedder + router MB | "
            "cosine to default (mean / min) | similarity rank correlation |",
            "|---|---|---|---|---|---|---|---|"]
    for name, e in results["embedders"].items():
        out.append(f"| {name}: {e['description']} | {e['file_mb']:.1f} | {_fmt(e['decision_p50_ms'])} | "
                   f"{_fmt(e['decision_p99_ms'])} | {_fmt(e['create_sessions_ms'])} | "
                   f"{_fmt(e['embedder_and_router_mb'])} | {e['cosine_to_default_mean']:.4f} / "
                   f"{e['cosine_to_default_min']:.4f} | {e['similarity_rank_correlation']:.4f} |")
    out += ["", "Agreement is measured on 100 questions from the prompt source: the cosine between each "
            "question's embedding and the default's, and the Spearman correlation of all pairwise similarities "
            "(what a kNN or similarity-weighted router ranks by)."]
    cold, mem = results["cold_start"]["cold_start_ms"], results["cold_start"]["memory_mb"]
    out += ["", f"## Cold start (ms, median of {results['cold_start']['runs']} fresh interpreters, files cached)", "",
            "| import | resolve files | create sessions | first decision | total |", "|---|---|---|---|---|",
            f"| {_fmt(cold['import'])} | {_fmt(cold['resolve_files'])} | {_fmt(cold['create_sessions'])} | "
            f"{_fmt(cold['first_decision'])} | {_fmt(cold['total'])} |",
            "", "## Resident memory (MB)", "",
            "| before loading | after embedder + router | after local LLM | peak | embedder + router share "
            "| of which libraries (numpy, onnxruntime, tokenizers, requests) | of which models and sessions |",
            "|---|---|---|---|---|---|---|",
            f"| {_fmt(mem['before_loading'])} | {_fmt(mem['after_embedder_and_router'])} | "
            f"{_fmt(mem['after_local_llm'])} | {_fmt(mem['peak'])} | {_fmt(mem['embedder_and_router'])} | "
            f"{_fmt(mem['libraries'])} | {_fmt(mem['models_and_sessions'])} |",
            "", "The local model's GGUF file is memory-mapped: its pages count as resident only once touched, so "
            "the RSS after loading it grows further during the first answers (see peak).",
            "", f"## Local model ({plan['answer_tokens']}-token answers)", "",
            "| prompt (embedder tokens) | prompt (model tokens) | time to first token ms | prefill tok/s | "
            "decode tok/s | answer ms | decision share of answer |",
            "|---|---|---|---|---|---|---|"]
    for n, cell in results["local_llm"].items():
        share = results["decision"]["threads_1"][n]["total"]["p50"] / cell["answer_ms"] * 100
        out.append(f"| {n} | {cell['prompt_tokens']:.0f} | {_fmt(cell['ttft_ms'])} | {_fmt(cell['prefill_tok_s'])} | "
                   f"{_fmt(cell['decode_tok_s'])} | {_fmt(cell['answer_ms'])} | {share:.2f} % |")
    out += ["", "Answers that stop before the fixed length are extrapolated to it at the measured decode rate.",
            "", "## Cloud path (ms)", "", "| endpoint | round trip p50 | round trip p95 | first token p50 |",
            "|---|---|---|---|"]
    for name, cell in results["cloud"].items():
        label = "loopback stand-in (llama-cpp-python server, same model)" if name == "standin" else cell["model"]
        out.append(f"| {label} | {_fmt(cell['round_trip_ms']['p50'])} | {_fmt(cell['round_trip_ms']['p95'])} | "
                   f"{_fmt(cell['first_token_ms']['p50'])} |")
    out += ["", f"## Uncertainty gate (k samples of up to {plan['gate_tokens']} tokens + embedding clustering, ms)", "",
            "| k | total | sampling | clustering |", "|---|---|---|---|"]
    for k, cell in results["gate"].items():
        out.append(f"| {k.split('_')[1]} | {_fmt(cell['total_ms'])} | {_fmt(cell['sample_ms'])} | "
                   f"{_fmt(cell['cluster_ms'])} |")
    out.append("")
    return "\n".join(out)


def write_markdown(results: dict, path: str | Path, *, with_plot: bool = True) -> Path:
    """The report; with ``with_plot`` the PNG goes beside it under the same stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_name = None
    if with_plot:
        plot_name = plot(results, path.with_suffix(".png")).name
    path.write_text(markdown(results, plot_name), encoding="utf-8")
    return path
