"""Write benchmark results as JSON (for scripts), Markdown (for people) and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import MissingDependencyError


def why_missed(target: dict, results: dict) -> str:
    """The measured parts behind a missed target."""
    name = target["name"]
    cell = results["decision"]["threads_1"]["32"]
    cold_ms, mem_mb = results["cold_start"]["cold_start_ms"], results["cold_start"]["memory_mb"]
    if "decision p50" in name:
        parts = cell["tokenize"]["p50"] + cell["embed"]["p50"] + cell["score"]["p50"]
        return (f"of the {_fmt(cell['total']['p50'])} ms, tokenizing takes {_fmt(cell['tokenize']['p50'])}, "
                f"encoding {_fmt(cell['embed']['p50'])} and scoring {_fmt(cell['score']['p50'])} (p50s); the rest, "
                f"about {_fmt(cell['total']['p50'] - parts)}, is the other stages (the privacy stage's patterns and "
                "name tagger first) and the pipeline")
    if name.startswith("cold start"):
        return (f"import {_fmt(cold_ms['import'])} ms, resolving files {_fmt(cold_ms['resolve_files'])} ms, "
                f"creating sessions (onnxruntime's import included) {_fmt(cold_ms['create_sessions'])} ms, "
                f"first decision {_fmt(cold_ms['first_decision'])} ms")
    if name.startswith("resident memory"):
        return (f"the libraries (numpy, onnxruntime, tokenizers, requests) take {_fmt(mem_mb['libraries'])} MB, "
                f"the models and sessions {_fmt(mem_mb['models_and_sessions'])} MB")
    if "samples in one batch" in name:
        k = name.split()[0]
        sampling = results["sampling"]
        cell = sampling[f"k_{k}"]["batched"]
        one_step_ms = 1e3 / sampling["one_answer_tok_s"]
        return (f"one batched step of {k} sequences takes {_fmt(cell['decode_ms_per_step'])} ms in llama.cpp's "
                f"decode (one answer's whole step: {_fmt(one_step_ms)} ms), so the model itself gives "
                f"{int(k) * one_step_ms / cell['decode_ms_per_step']:.2f}× at best; drawing the tokens from the "
                f"full softmax and detokenizing add {_fmt(cell['other_ms_per_step'])} ms per step; and the k "
                "samples stop at different lengths, so the later steps carry fewer sequences, while the prompt's "
                "prefill is part of the time. On these two cores a batch of k tokens, each with its own output "
                "logits, costs more than half of k single steps")
    if name.startswith("routing APGR"):
        rows = []
        for encoder, e in results["encoders"].items():
            rows.append(f"{encoder} " + ", ".join(
                f"{b} {a['router']:.3f} (random {a['random_mean']:.3f} ± {a['random_sd']:.3f}, n = {a['n']})"
                for b, a in e["quality"]["apgr"].items()))
        return ("APGRs: " + "; ".join(rows) + ". At these sizes random routing's spread is larger than the "
                "target's margin: the difference is measured, not yet telling")
    return "see the tables below"


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
        "followed by the same input through the encoder and router directly, so both see the same load (this "
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
        bound = "≥" if t.get("at_least") else "≤"
        out.append(f"| {t['name']} | {_fmt(t['measured'])} {t['unit']} | {bound} {_fmt(t['limit'])} {t['unit']} | "
                   f"{verdict} ({t['ratio_to_limit']:.2f}× the limit) |")
    missed = [t for t in results["targets"] if not t["met"]]
    for t in missed:
        out.append(f"\n- Missed: {t['name']}: {why_missed(t, results)}.")
    out += ["", "## Decision latency (ms)", "",
            "| threads | prompt tokens | routing tokens | tokenize p50 | embed p50 | score p50 | total p50 | "
            "total p95 | total p99 | direct call p50 | wrapper ratio |",
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
    out += encoders_table(results)
    out += session_options_table(results["session_options"])
    cold, mem = results["cold_start"]["cold_start_ms"], results["cold_start"]["memory_mb"]
    out += ["", f"## Cold start of {plan['embedder']} (ms, median of {results['cold_start']['runs']} fresh "
            "interpreters, files cached)", "",
            "| import | resolve files | create sessions | first decision | total |", "|---|---|---|---|---|",
            f"| {_fmt(cold['import'])} | {_fmt(cold['resolve_files'])} | {_fmt(cold['create_sessions'])} | "
            f"{_fmt(cold['first_decision'])} | {_fmt(cold['total'])} |",
            "", f"## Resident memory with {plan['embedder']} (MB)", "",
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
    sampling = results.get("sampling")
    if sampling:
        out += ["", f"## k samples: one after another vs one batch (up to {sampling['tokens']} tokens, temperature 1)",
                "", f"One greedy answer of {sampling['tokens']} tokens: {_fmt(sampling['one_answer_s'] * 1e3)} ms, "
                f"{sampling['one_answer_tok_s']:.1f} tok/s.", "",
                "| k | path | tokens/s | × one answer's throughput | seconds | batched: decode ms per step | "
                "batched: draw + detokenize ms per step |", "|---|---|---|---|---|---|---|"]
        for k, cell in ((key.split("_")[1], c) for key, c in sampling.items() if key.startswith("k_")):
            for path in ("sequential", "batched"):
                c = cell[path]
                extra = (f"{_fmt(c['decode_ms_per_step'])} | {_fmt(c['other_ms_per_step'])}" if path == "batched"
                         else "— | —")
                out.append(f"| {k} | {path} | {c['tok_s']:.1f} | {c['x_one_answer']:.2f} | {c['seconds']:.2f} | "
                           f"{extra} |")
    out += ["", "## Uncertainty gate (k samples of up to n tokens + the default clustering, ms, medians over the "
            "runs; the default gate: k = 5, 16 tokens)", "",
            "| k | tokens | runs | total | sampling | clustering | sample length (tokens, median of means) |",
            "|---|---|---|---|---|---|---|"]
    for key, cell in results["gate"].items():
        _, k, _, tokens = key.split("_")
        out.append(f"| {k} | {tokens} | {cell['runs']} | {_fmt(cell['total_ms'])} | {_fmt(cell['sample_ms'])} | "
                   f"{_fmt(cell['cluster_ms'])} | {cell['sample_tokens']:.1f} |")
    out.append("")
    return "\n".join(out)


def encoders_table(results: dict) -> list[str]:
    """Each registered encoder: speed by length, cold start, memory, size, agreement and routing quality."""
    plan = results["plan"]
    lengths = next(iter(results["encoders"].values()))["decision_ms"]
    first = next((e["quality"] for e in results["encoders"].values() if e["quality"]), None)
    benchmarks = list(first["apgr"]) if first else []
    out = ["", f"## Encoders side by side (1 thread; the same {plan['router_kind']} router kind trained on the same "
           f"labels, `{plan['labels']}`, with each)", "",
           "| encoder | file MB | " + " | ".join(f"p50 / p99 ms at {n} tokens" for n in lengths)
           + " | cold start ms | embedder + router MB | similarity rank corr. to MiniLM | AUROC strong wins "
           "(test) | AUROC local wrong (test) | APGR " + " / ".join(benchmarks) + " | mean APGR |",
           "|---" * (9 + len(lengths)) + "|"]
    for name, e in results["encoders"].items():
        q = e["quality"]
        speed = " | ".join(f"{_fmt(c['p50'])} / {_fmt(c['p99'])}" for c in e["decision_ms"].values())
        apgr = (" / ".join(f"{a['router']:.3f}" for a in q["apgr"].values()) + f" | {q['apgr_mean']:.3f}"
                if q and q["apgr"] else "n/a (no shared data) | n/a")
        quality = (f"{_auroc(q['auroc_strong_wins'])} | {_auroc(q['auroc_local_wrong'])} | {apgr}"
                   if q else "n/a | n/a | n/a | n/a")
        default = " (default)" if name == plan["embedder"] else ""
        out.append(f"| **{name}**{default}: {e['description']} | {e['file_mb']:.1f} | {speed} | "
                   f"{_fmt(e['cold_start_ms'])} | {_fmt(e['embedder_and_router_mb'])} | "
                   f"{e['similarity_rank_correlation_to_teacher']:.3f} | {quality} |")
    if first and first["apgr"]:
        randoms = ", ".join(f"{b} {a['random_mean']:.3f} ± {a['random_sd']:.3f} (n = {a['n']})"
                            for b, a in first["apgr"].items())
        sizes = first["labels"]["sizes"]
        out += ["", f"Random routing's APGR on the on-device pair (10 seeds): {randoms}. Label rows: "
                f"{first['labels']['rows']} (train {sizes['train']}, test {sizes['test']})."]
    out += ["", "Similarity rank correlation: the Spearman correlation of all pairwise similarities of 100 questions "
            "with those of all-minilm-l6-v2-onnx-int8 (what a kNN or similarity-weighted router ranks by)."]
    return out


def session_options_table(so: dict) -> list[str]:
    """Each onnxruntime option against edge-router's own settings."""
    out = ["", f"## onnxruntime session options, one at a time ({so['encoder']}, median of {so['runs']} fresh "
           "interpreters)", "", "| option | import onnxruntime ms | create session ms | session MB | run p50 ms "
           "(32 tokens) |", "|---|---|---|---|---|"]
    for option, r in so["options"].items():
        out.append(f"| {option} | {_fmt(r['import_ms'])} | {_fmt(r['create_ms'])} | {_fmt(r['session_mb'])} | "
                   f"{_fmt(r['run_p50_ms'])} |")
    return out


def _auroc(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def write_markdown(results: dict, path: str | Path, *, with_plot: bool = True) -> Path:
    """The report; with ``with_plot`` the PNG goes beside it under the same stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_name = None
    if with_plot:
        plot_name = plot(results, path.with_suffix(".png")).name
    path.write_text(markdown(results, plot_name), encoding="utf-8")
    return path
