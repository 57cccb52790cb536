"""The uncertainty gate's settings for the default local model, chosen on labelled prompts.

Reads the Qwen pair's label rows (``models/routers/qwen-pair.labels.jsonl.gz``: for every training prompt the
on-device model's greedy answer, whether it is right, and k = 5 samples of at most 32 tokens with each token's
log-probability). Every gate setting is replayed from them without running the model: the first k of the five
samples (k = 2..5), cut to their first n tokens (n = 8, 16, 32, by the model's own tokenizer), clustered by exact
match, scored by count or likelihood semantic entropy. For each: AUROC for "the local answer is wrong" and the
tokens the gate decodes per decision (its cost). The setting is chosen on the train and calibration splits (the
cheapest within 0.01 of the best AUROC), the offload threshold there by Youden's J (thresholds lie midway
between the entropy values k samples can give); the test split reports
both, with bootstrap intervals and the share each threshold sends out. Seconds on two cores:

    python benchmarks/gate_calibration.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edge_router import defaults
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.errors import require
from edge_router.files import model_store
from edge_router.metrics import auroc, auroc_interval
from edge_router.training.labels import read_rows
from edge_router.uncertainty.clustering import ExactMatchClusterer
from edge_router.uncertainty.semantic_entropy import entropies_of

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"
KS = (2, 3, 4, 5)
LENGTHS = (8, 16, 32)
MEASURES = ("counts", "likelihood")


def truncations(rows: list[dict]) -> dict[int, list[list[tuple[str, float, int]]]]:
    """Per length n, per row, per sample: (its text cut to n tokens, mean log-probability of those, tokens)."""
    llama_cpp = require("llama_cpp", "llama-cpp-python")
    path, _ = model_store.locate("local-llm", None)
    vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    out: dict[int, list] = {n: [] for n in LENGTHS}
    for row in rows:
        tokenized = [vocab.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in row["weak"]["samples"]]
        for n in LENGTHS:
            out[n].append([
                (vocab.detokenize(t[:n]).decode("utf-8", "replace") if len(t) > n else s,
                 float(np.mean(lp[:n])) if lp else 0.0, min(len(lp), n))
                for s, t, lp in zip(row["weak"]["samples"], tokenized, row["weak"]["token_logprobs"])])
    return out


def entropies(cut: list[list[tuple[str, float, int]]], k: int) -> dict[str, np.ndarray]:
    """Per row, from its first k cut samples clustered by exact match: count and likelihood entropy, and the
    tokens the gate decoded."""
    exact = ExactMatchClusterer()
    out: dict[str, list] = {"counts": [], "likelihood": [], "tokens": []}
    for samples in cut:
        texts, means, lengths = zip(*samples[:k])
        _, counts, likelihood, _ = entropies_of(exact, list(texts), list(means))
        out["counts"].append(counts)
        out["likelihood"].append(likelihood)
        out["tokens"].append(sum(lengths))
    return {name: np.array(values, float) for name, values in out.items()}


def midpoints(se: np.ndarray) -> list[float]:
    """Thresholds midway between neighbouring entropy values (k samples give a few), so that rounding cannot
    move a split across one."""
    values = sorted(set(np.round(se, 4)))
    return [round(float(low + high) / 2, 3) for low, high in zip(values, values[1:])]


def thresholds(se: np.ndarray, wrong: np.ndarray, cuts: list[float]) -> list[dict]:
    """At each threshold: the share offloaded (entropy above it), the kept answers' accuracy and Youden's J for
    "local answer wrong"."""
    out = []
    for t in cuts:
        sent = se > t
        kept = ~sent
        out.append({"threshold": t, "sent": float(sent.mean()), "j": float(sent[wrong].mean() - sent[~wrong].mean()),
                    "kept_accuracy": float((~wrong[kept]).mean()) if kept.any() else float("nan")})
    return out


def main() -> int:
    rows = [r for r in read_rows(LABELS) if r["weak"].get("correct") is not None]
    wrong = np.array([not r["weak"]["correct"] for r in rows])
    test = np.array([r["split"] == "test" for r in rows])
    cuts = truncations(rows)
    settings = []
    for n in LENGTHS:
        for k in KS:
            replayed = entropies(cuts[n], k)
            for measure in MEASURES:
                se, tokens = replayed[measure], replayed["tokens"]
                low, high = auroc_interval(se[test], wrong[test])
                settings.append({"k": k, "max_tokens": n, "measure": measure, "auroc_select": auroc(se[~test],
                                 wrong[~test]), "auroc_test": auroc(se[test], wrong[test]),
                                 "auroc_test_interval": [low, high], "tokens_per_decision": float(tokens.mean())})
    best = max(s["auroc_select"] for s in settings)
    chosen = min((s for s in settings if s["auroc_select"] >= best - 0.01), key=lambda s: s["tokens_per_decision"])
    se = entropies(cuts[chosen["max_tokens"]], chosen["k"])[chosen["measure"]]
    cuts = midpoints(se[~test])
    select_table, test_table = thresholds(se[~test], wrong[~test], cuts), thresholds(se[test], wrong[test], cuts)
    threshold = max(select_table, key=lambda t: t["j"])["threshold"]
    env = environment.describe()
    result = {"environment": env, "rows": len(rows), "test_rows": int(test.sum()), "settings": settings,
              "chosen": chosen, "threshold": threshold, "thresholds_select": select_table,
              "thresholds_test": test_table, "local_accuracy": float(1 - wrong.mean())}
    write_json(result, RESULTS / "gate_calibration.json")
    text = markdown(result)
    (RESULTS / "gate_calibration.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def markdown(r: dict) -> str:
    env, chosen = r["environment"], r["chosen"]
    current = (defaults.GATE_K, defaults.GATE_MAX_TOKENS, defaults.GATE_THRESHOLD)
    lines = [
        "# Uncertainty gate: settings for the default local model",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; commit {env.get('commit')}. Data: {r['rows']} label rows "
        f"of the Qwen pair (`models/routers/qwen-pair.labels.jsonl.gz`), the on-device Qwen2.5-Coder-0.5B's greedy "
        f"answer right on {r['local_accuracy']:.1%}; settings chosen on the train and calibration splits "
        f"({r['rows'] - r['test_rows']} rows), reported on the test split ({r['test_rows']} rows). Each setting is "
        "replayed from the rows' five samples (temperature 1, the gate's short-answer instruction): the first k, "
        "cut to n tokens, exact-match clusters. Cost: tokens the gate decodes per decision (mean).",
        "",
        "| k | tokens per sample | entropy | AUROC, train+calibration | AUROC, test (95 % CI) | tokens per decision |",
        "|---|---|---|---|---|---|",
    ]
    for s in r["settings"]:
        mark = " **chosen**" if s is chosen else ""
        lo, hi = s["auroc_test_interval"]
        lines.append(f"| {s['k']} | {s['max_tokens']} | {s['measure']}{mark} | {s['auroc_select']:.3f} | "
                     f"{s['auroc_test']:.3f} ({lo:.2f}–{hi:.2f}) | {s['tokens_per_decision']:.1f} |")
    lines += [
        "",
        f"Chosen: k = {chosen['k']}, {chosen['max_tokens']} tokens per sample, {chosen['measure']} entropy: the "
        "cheapest setting within 0.01 of the best AUROC on the train and calibration splits. Offload threshold "
        f"{r['threshold']:.3f} nats (the largest Youden's J there). Defaults in `edge_router/defaults.py`: k = "
        f"{current[0]}, {current[1]} tokens, threshold {current[2]:g}.",
        "",
        "| threshold (nats) | share sent out, train+cal. | kept answers right, train+cal. | share sent out, test "
        "| kept answers right, test |",
        "|---|---|---|---|---|",
    ]
    for t, other in zip(r["thresholds_select"], r["thresholds_test"]):
        tail = f"{other['sent']:.0%} | {other['kept_accuracy']:.1%}"
        lines.append(f"| {t['threshold']:.3f}{' **chosen**' if t['threshold'] == r['threshold'] else ''} | "
                     f"{t['sent']:.0%} | {t['kept_accuracy']:.1%} | {tail} |")
    lines += ["", "AUROC 0.5 is chance. Sending everything out gives the strong model's accuracy; keeping "
              "everything, the local model's."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
