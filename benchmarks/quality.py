"""Routing quality on three model pairs next to the semantic-entropy routing paper (arXiv 2502.11021):
regenerates ``benchmarks/results/quality.md``, ``quality.json`` and one PNG of PGR against the share of
strong calls per pair and benchmark.

1. Four label sets, none holding an evaluation prompt (checked):
   - ``se``: the paper's labels from the on-device pair (``models/routers/qwen-pair.labels.jsonl.gz``):
     k = 5 samples of Qwen2.5-Coder-0.5B and of Qwen2.5-Coder-1.5B, relative SE difference, τ = 0.1;
   - ``accuracy``: on the same prompts, "the 0.5B greedy answer was wrong" (TO-Router-style baseline);
   - ``outcome``: on the same prompts, the pair's greedy answers as RouteLLM labels them (strong when only
     the 1.5B was right, weak when only the 0.5B was): what the SE labels are compared with;
   - ``rb-outcome``: GPT-4 vs Mixtral recorded outcomes on RouterBench's train rows (ARC-Challenge,
     Winogrande, MBPP), for the pair neither of whose models can be sampled here (out of domain, as
     RouteLLM's Arena data is).
2. Routers: kNN, SW, MF and MLP per label set (kNN and MLP for ``accuracy``); the one each set would ship is
   chosen on its validation split (``trainer.chosen_kind``), never on an evaluation set.
3. ``edge_router.evaluation.runner.run`` on GSM8K and MMLU for the on-device pair (both Qwen models'
   outcomes measured here) and for the 0.5B vs GPT-4, and on GSM8K, MMLU and MT-Bench for GPT-4 vs Mixtral
   (RouteLLM's records); random over 20 seeds and the oracle in every table.
4. References that say why a target is missed: a kNN cross-fitted on each evaluation set's own outcomes
   (what the query embedding carries with in-domain labels) and, on the on-device pair, a perfect
   "local answer wrong" detector and question length.

Embeddings are cached on disk, so a rerun takes a minute or two. Usage:

    python benchmarks/quality.py [--judge-base-url URL --judge-model NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edge_router import Embedder
from edge_router.backends.cloud_llm import CloudLLM
from edge_router.bench import environment
from edge_router.data import eval_data
from edge_router.data.datasets import routerbench_outcomes
from edge_router.data.eval_data import EvalSet
from edge_router.evaluation.runner import DEFAULT_PRICES, ORACLE, RANDOM, run
from edge_router.settings import cache_dir
from edge_router.training.labels import outcome_rows, prompt_id, read_rows
from edge_router.training.routers import KnnRouter
from edge_router.training.trainer import chosen_kind, train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PAIR_LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
RB_MODELS = {"strong": "gpt-4-1106-preview", "weak": "mistralai/mixtral-8x7b-chat"}
SEEDS = 20
LABEL_SETS = {
    "se": "semantic-entropy preferences of the on-device pair (Qwen 0.5B vs 1.5B, k = 5, τ = 0.1)",
    "accuracy": "the Qwen 0.5B greedy answer was wrong, same prompts (TO-Router-style baseline)",
    "outcome": "the pair's greedy answers, same prompts: strong when only the 1.5B was right (RouteLLM-style)",
    "rb-outcome": "GPT-4 vs Mixtral recorded outcomes on RouterBench train (ARC-Challenge, Winogrande, MBPP)",
}
EVALUATIONS = (
    ("on-device", ("gsm8k", "mmlu"), ("se", "accuracy", "outcome")),
    ("local-gpt4", ("gsm8k", "mmlu"), ("se", "accuracy")),
    ("gpt4-mixtral", ("gsm8k", "mmlu", "mt-bench"), ("se", "accuracy", "rb-outcome")),
)
PAPER = {
    "SE router (arXiv 2502.11021), MT-Bench": {"cpt50": 0.2731, "cost_at_cpt80_usd": 3.74,
                                              "random_cost_at_cpt80_usd": 4.06},
    "RouteLLM's best, MT-Bench": {"cpt50": 0.1340, "apgr": 0.802},
}
ON_DEVICE_MARGIN, ON_DEVICE_APGR = 0.10, 0.60
IN_DOMAIN_FOLDS, IN_DOMAIN_K = 5, 10
IN_DOMAIN = f"a kNN (k = {IN_DOMAIN_K}) cross-fitted in {IN_DOMAIN_FOLDS} folds on these outcomes"
PERFECT, LONGEST = "a perfect \"local answer wrong\" detector", "routing the longest first"


def label_sets() -> dict[str, tuple[list[dict], str]]:
    """Rows and training target of each label set."""
    pair = read_rows(PAIR_LABELS)
    recorded = outcome_rows(routerbench_outcomes(RB_MODELS["strong"], RB_MODELS["weak"]),
                            strong_model=RB_MODELS["strong"], weak_model=RB_MODELS["weak"])
    return {"se": (pair, "se"), "accuracy": (pair, "local-wrong"), "outcome": (pair_outcomes(pair), "se"),
            "rb-outcome": (recorded, "se")}


def pair_outcomes(pair: list[dict]) -> list[dict]:
    """The SE label prompts relabelled by the pair's greedy answers (rows without a scored answer left out)."""
    scored = [r for r in pair if r["weak"].get("correct") is not None and r["strong"].get("correct") is not None]
    records = [{"question": r["prompt"], "dataset": r["dataset"], "sample_id": r["index"],
                "strong": float(r["strong"]["correct"]), "weak": float(r["weak"]["correct"])} for r in scored]
    return outcome_rows(records, strong_model=pair[0]["strong"]["model"], weak_model=pair[0]["weak"]["model"])


def evaluation_ids() -> set[str]:
    """The ids of every evaluation prompt (read once; each label set is checked against them)."""
    return {prompt_id(p) for b in eval_data.BENCHMARKS for p in eval_data.load(b).prompts}


def check_disjoint(rows: list[dict], evaluation: set[str]) -> int:
    """Training prompts that are also evaluation prompts (must be 0)."""
    return len({prompt_id(r["prompt"]) for r in rows} & evaluation)


def train_sets(sets: dict, work: Path, embedder: Embedder) -> tuple[dict[str, list[Path]], dict[str, dict]]:
    """Router files per label set and every card (by ``set/kind``), with the kind each set would ship."""
    paths, cards = {}, {}
    for name, (rows, target) in sets.items():
        label_file = work / f"{name}.jsonl"
        label_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        kinds = ["knn", "mlp"] if name == "accuracy" else None
        set_cards = train(label_file, work / name, embedder=embedder, kinds=kinds, target=target)
        chosen = chosen_kind(set_cards)
        paths[name] = [work / name / f"{k}.onnx" for k in set_cards]
        for kind, card in set_cards.items():
            cards[f"{name}/{kind}"] = dict(card, chosen=kind == chosen)
    return paths, cards


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, r in result["routers"].items():
        share, pgr = np.array(r["curve"]["share"]), np.array(r["curve"]["pgr"])
        if name == RANDOM:
            spread = np.array(r["curve"]["pgr_std"])
            ax.plot(share, pgr, color="grey", label=f"random (mean of {r['seeds']} seeds, ±1 sd)")
            ax.fill_between(share, pgr - spread, pgr + spread, color="grey", alpha=0.25)
        else:
            ax.plot(share, pgr, linestyle="--" if name == ORACLE else "-", label=name)
    ax.axhline(0.5, color="black", linewidth=0.5)
    ax.axhline(0.8, color="black", linewidth=0.5)
    ax.set_xlabel("share of queries sent to the strong model")
    ax.set_ylabel("PGR")
    ax.set_title(f"{result['benchmark']}: {result['strong_model']} vs {result['weak_model']}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(x: float | None) -> str:
    return "—" if x is None or x != x else f"{100 * x:.1f} %"


def _usd(x: float | None) -> str:
    return "—" if x is None else f"${x:.2f}" if x >= 0.1 else f"${x:.4f}"


def _fmt(x: float | None) -> str:
    return "—" if x is None or x != x else f"{x:.3f}"


def result_table(result: dict, cards: dict) -> list[str]:
    judged = "judge_at_cpt80" in result
    head = ("| router | APGR | CPT(50%) | CPT(80%) | cost at CPT(80%) | AUROC here, strong better |"
            + (" judge score |" if judged else ""))
    lines = [head, "|---|---|---|---|---|---|" + ("---|" if judged else "")]
    for name, r in result["routers"].items():
        spread = r.get("spread")
        apgr = f"{r['apgr']:.3f}" + (f" ± {spread['apgr']:.3f}" if spread else "")
        cpt50 = _pct(r["cpt50"]) + (f" ± {100 * spread['cpt50']:.1f}" if spread else "")
        cpt80 = _pct(r["cpt80"]) + (f" ± {100 * spread['cpt80']:.1f}" if spread else "")
        cost = _usd(r["cost_at_cpt80_usd"])
        label = f"**{name}** (chosen)" if cards.get(name, {}).get("chosen") else name
        row = f"| {label} | {apgr} | {cpt50} | {cpt80} | {cost} | {_fmt(r.get('auroc_strong_better'))} |"
        if judged:
            score = result["judge_at_cpt80"]["scores"].get(name)
            row += f" {score:.1f} |" if score is not None else " — |"
        lines.append(row)
    return lines


def _verdict(gap: float, *, points: bool = False) -> str:
    """"met" when ``gap`` (measured minus goal, lower is better) is below zero, else by how much it missed."""
    if gap < 0:
        return "met"
    return f"missed by {100 * gap:.1f} pts" if points else f"missed by {gap:.3f}"


def chosen_result(result: dict, cards: dict, label_set: str) -> tuple[str, dict]:
    name = next(n for n, c in cards.items() if c["chosen"] and n.startswith(f"{label_set}/"))
    return name, result["routers"][name]


def targets(results: list[dict], cards: dict) -> list[str]:
    """The issue's targets, each met or missed by how much, for the routers chosen on validation."""
    lines = ["| pair | benchmark | router (chosen on validation) | target | measured | verdict |",
             "|---|---|---|---|---|---|"]
    for result in results:
        rnd = result["routers"][RANDOM]
        if result["pair"] == "on-device":
            name, r = chosen_result(result, cards, "se")
            goal = rnd["cpt50"] - ON_DEVICE_MARGIN
            gap = r["cpt50"] - goal
            lines.append(f"| on-device | {result['benchmark']} | {name} | CPT(50%) ≤ random − 10 pts = "
                         f"{_pct(goal)} | {_pct(r['cpt50'])} | {_verdict(gap, points=True)} |")
            lines.append(f"| on-device | {result['benchmark']} | {name} | APGR ≥ {ON_DEVICE_APGR:.2f} | "
                         f"{r['apgr']:.3f} | {_verdict(ON_DEVICE_APGR - r['apgr'])} |")
        elif result["pair"] == "gpt4-mixtral":
            for label_set in ("se", "rb-outcome"):
                name, r = chosen_result(result, cards, label_set)
                if result["benchmark"] == "mt-bench":
                    goal, text = PAPER["SE router (arXiv 2502.11021), MT-Bench"]["cpt50"], "CPT(50%) < 27.31 % (paper)"
                else:
                    goal = rnd["cpt50"] - 2 * rnd["spread"]["cpt50"]
                    text = f"CPT(50%) < random − 2 sd = {_pct(goal)}"
                gap = r["cpt50"] - goal
                lines.append(f"| gpt4-mixtral | {result['benchmark']} | {name} | {text} | {_pct(r['cpt50'])} | "
                             f"{_verdict(gap, points=True)} |")
    return lines


def write_markdown(report: dict, path: Path) -> None:
    env, cards = report["environment"], report["cards"]
    lines = [
        "# Routing quality on three pairs, next to the semantic-entropy routing paper",
        "",
        f"Generated {report['generated']} by `benchmarks/quality.py` on {env['cpu']} ({env['cores']} cores), "
        f"Python {env['python']}, commit `{env['commit']}`. Embedder `{report['embedder']}` (the default).",
        "",
        "## Label sets and routers",
        "",
        "Router names are `<label set>/<kind>`. **Bold** marks the kind each label set would ship, chosen on its "
        "own validation split (highest AUROC for \"strong wins\"); evaluation sets never choose.",
        "",
        "| label set | what the labels are | prompts | balance | evaluation-prompt overlap |",
        "|---|---|---|---|---|",
    ]
    for name, info in report["label_sets"].items():
        balance = ", ".join(f"{k} {n}" for k, n in info["labels"].items())
        lines.append(f"| `{name}` | {LABEL_SETS[name]} | {info['rows']} | {balance} | {info['overlap']} |")
    lines += ["", "| router | validation AUROC strong wins | test AUROC strong wins | test AUROC local wrong | "
              "validation / test prompts |", "|---|---|---|---|---|"]
    for name, c in cards.items():
        v, t = c["metrics_validation"], c["metrics_test"]
        label = f"**{name}**" if c["chosen"] else name
        lines.append(f"| {label} | {_fmt(v['auroc_strong_wins'])} | {_fmt(t['auroc_strong_wins'])} | "
                     f"{_fmt(t['auroc_local_wrong'])} | {v['n']} / {t['n']} |")
    lines += [
        "",
        f"- `random` is the mean ± standard deviation over {SEEDS} seeds; `oracle` sends a query to the strong "
        "model exactly when that helps (PGR can pass 1 because the weak model is sometimes right where the "
        "strong one is wrong).",
        "- \"AUROC here, strong better\": the router's score against \"the strong model did better on this "
        "query\", over the queries where the two differ, on the evaluation set itself (a diagnosis, not a "
        "choice).",
        "- Cost: tokens counted with the embedder's WordPiece tokenizer (an approximation; MMLU has no recorded "
        "answers, so outputs count one token), USD per million tokens: "
        + "; ".join(f"{pair} {vars(p)}" for pair, p in DEFAULT_PRICES.items()) + ".",
        "- Judge score: " + ("measured with " + report["judge_model"] if report.get("judge_model") else
                             "not measured (no judge endpoint reachable from this machine; `--judge-base-url` "
                             "adds the column)."),
        "",
        "## Targets",
        "",
        *targets(report["results"], cards),
        "",
    ]
    for result in report["results"]:
        lines += [
            f"## {result['pair']}: {result['benchmark']} — {result['strong_model']} vs {result['weak_model']}",
            "",
            f"{result['n']} questions ({result['dropped_contaminated']} contaminated dropped); {result['outcome']}: "
            f"strong {result['strong_mean']:.3f}, weak {result['weak_mean']:.3f}.",
            "",
            *result_table(result, cards),
            "",
            f"![PGR vs share of strong calls]({result['plot']})",
            "",
        ]
    lines += [
        "## Side by side with the papers (their numbers are reported there, not measured here)",
        "",
        "| figure | reported | edge-router, measured here |",
        "|---|---|---|",
        *paper_rows(report["results"], cards),
        "",
        "Costs are not comparable in absolute terms (the papers' token counts and prices are not published with "
        "their numbers); the ratio to random is the comparable part.",
        "",
        "## Reading",
        "",
        *report["reading"],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def paper_rows(results: list[dict], cards: dict) -> list[str]:
    mt = next(r for r in results if r["pair"] == "gpt4-mixtral" and r["benchmark"] == "mt-bench")
    rnd = mt["routers"][RANDOM]
    rows = []
    for label_set in ("se", "rb-outcome"):
        name, r = chosen_result(mt, cards, label_set)
        rows += [f"| MT-Bench CPT(50%): SE router 27.31 %, RouteLLM 13.40 % | 27.31 % / 13.40 % | "
                 f"{_pct(r['cpt50'])} ({name}) |",
                 f"| MT-Bench APGR: RouteLLM 0.802 | 0.802 | {r['apgr']:.3f} ({name}) |",
                 f"| MT-Bench cost at CPT(80%): SE router $3.74 | $3.74 | ${r['cost_at_cpt80_usd']:.2f} ({name}) |"]
    rows += [f"| MT-Bench CPT(50%), random | 51.29 % | {_pct(rnd['cpt50'])} ± {100 * rnd['spread']['cpt50']:.1f} |",
             f"| MT-Bench cost at CPT(80%), random | $4.06 | ${rnd['cost_at_cpt80_usd']:.2f} |"]
    return rows


def reference_scores(eval_set: EvalSet, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Scores that say why a target is missed: a kNN cross-fitted on the set's own outcomes
    (``in_domain_scores``) and, on the on-device pair, two query-blind ones: a perfect detector of the local
    answer being wrong (the most the gate or the answer check could do) and question length (a difficulty
    proxy any router could learn)."""
    scores = {IN_DOMAIN: in_domain_scores(vectors, eval_set.strong, eval_set.weak)}
    if eval_set.pair == "on-device":
        scores |= {PERFECT: 1.0 - eval_set.weak, LONGEST: np.array([len(p) for p in eval_set.prompts], float)}
    return scores


def references(result: dict) -> str:
    """One reading line: what each reference reached on this evaluation set."""
    refs = result["references"]
    parts = [f"{name} reaches CPT(50%) {_pct(r['cpt50'])}, APGR {r['apgr']:.3f}, AUROC strong better "
             f"{_fmt(r['auroc_strong_better'])}" for name, r in refs.items()]
    tail = f" Question length ranks \"local wrong\" with AUROC {_fmt(refs[LONGEST]['auroc_weak_wrong'])}." \
        if LONGEST in refs else ""
    return f"- {result['pair']} / {result['benchmark']}, references: " + "; ".join(parts) + "." + tail


def in_domain_scores(vectors: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Each question scored by a kNN fitted on the other folds' outcomes (strong better 1, even 0.5, worse 0).

    What a query-embedding router with in-domain labels of this very pair reaches at this size: a reference
    for the shipped routers, not one that could ship (its labels are the evaluation's own outcomes).
    """
    folds = np.random.default_rng(0).permutation(len(strong)) % IN_DOMAIN_FOLDS
    values = (np.sign(strong - weak) + 1.0) / 2.0
    scores = np.zeros(len(strong), np.float32)
    for fold in range(IN_DOMAIN_FOLDS):
        held = folds == fold
        router = KnnRouter(IN_DOMAIN_K).fit(vectors[~held], values[~held])
        scores[held] = router.score(vectors[held])
    return scores


def reading(results: list[dict], cards: dict, sets: dict) -> list[str]:
    out = [references(r) for r in results]
    for result in results:
        rnd = result["routers"][RANDOM]
        for label_set in ("se", "outcome", "rb-outcome"):
            if not any(n.startswith(f"{label_set}/") for n in result["routers"]):
                continue
            name, r = chosen_result(result, cards, label_set)
            margin = (rnd["cpt50"] - r["cpt50"]) / max(rnd["spread"]["cpt50"], 1e-9)
            out.append(f"- {result['pair']} / {result['benchmark']} (n = {result['n']}): {name} reaches PGR 50 % at "
                       f"{_pct(r['cpt50'])} of strong calls against random's {_pct(rnd['cpt50'])} ± "
                       f"{100 * rnd['spread']['cpt50']:.1f} ({margin:+.1f} sd); APGR {r['apgr']:.3f} against "
                       f"{rnd['apgr']:.3f}; it ranks \"strong better\" here with AUROC "
                       f"{_fmt(r.get('auroc_strong_better'))}.")
    se_rows = sets["se"][0]
    spread = "; ".join(f"{r['benchmark']}: {r['n']} once RouteLLM's contaminated prompts are dropped, random's "
                       f"CPT(50%) ± {100 * r['routers'][RANDOM]['spread']['cpt50']:.1f} pts, so a 10-point margin is "
                       f"{0.1 / r['routers'][RANDOM]['spread']['cpt50']:.1f} sd"
                       for r in results if r["pair"] == "on-device")
    by_source: dict[str, int] = {}
    for row in se_rows:
        by_source[row["dataset"]] = by_source.get(row["dataset"], 0) + 1
    out += [
        "",
        f"The SE labels come from {len(se_rows)} short-answer prompts ({by_source}), answered in at most 32 "
        "tokens; GSM8K asks for step-by-step arithmetic and MMLU for a letter, so the on-device routers are "
        "out of domain on GSM8K and partly in domain on MMLU (MMLU dev/val are among their sources). The "
        "on-device pair is evaluated on the questions both Qwen models have answered of "
        "`benchmarks/local_models.py`'s fixed 400 GSM8K and 1,430 MMLU questions (" + spread + ").",
        "",
        "The in-domain kNN is a reference for what the query embedding carries at these sizes: where even it "
        "misses a target, no router on these embeddings is likely to meet it with more labels of the same kind; "
        "where it meets one that the shipped router misses, what is missing is in-domain labels.",
        "",
        "GPT-4 vs Mixtral: neither model can be sampled here, so the SE routers carry the Qwen pair's notion of "
        "difficulty to another pair, and the `rb-outcome` routers learn GPT-4 vs Mixtral from out-of-domain "
        "multiple-choice and code prompts; the paper trained on SE labels of the evaluated pair itself.",
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge-base-url")
    parser.add_argument("--judge-model")
    parser.add_argument("--judge-limit", type=int)
    args = parser.parse_args(argv)
    embedder = Embedder()
    sets = label_sets()
    info = {}
    evaluation = evaluation_ids()
    for name, (rows, target) in sets.items():
        overlap = check_disjoint(rows, evaluation)
        if overlap:
            print(f"{overlap} prompts of the {name} labels are evaluation prompts; refusing to evaluate.",
                  file=sys.stderr)
            return 1
        labels = {k: sum(r["label"] == k for r in rows) for k in ("strong", "tie", "weak")}
        if target == "local-wrong":
            labels = {"local wrong": sum(r["weak"]["correct"] is False for r in rows),
                      "local right": sum(r["weak"]["correct"] is True for r in rows)}
        info[name] = {"rows": len(rows), "labels": labels, "overlap": overlap}
    judge = CloudLLM(base_url=args.judge_base_url, model=args.judge_model) if args.judge_base_url else None
    results = []
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        paths, cards = train_sets(sets, Path(tmp), embedder)
        for pair, benchmarks, used in EVALUATIONS:
            router_paths = [p for name in used for p in paths[name]]
            for result in run(list(benchmarks), pair=pair, router_paths=router_paths, embedder=embedder,
                              seeds=SEEDS, judge_client=judge if pair == "gpt4-mixtral" else None,
                              judge_limit=args.judge_limit, references=reference_scores):
                results.append(result)
    for result in results:
        name = f"quality_{result['pair']}_{result['benchmark']}.png"
        plot(result, RESULTS / name)
        result["plot"] = name
    report = {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment.describe(), "embedder": embedder.id, "label_sets": info,
        "cards": {name: {k: c[k] for k in ("kind", "target", "chosen", "metrics_validation", "metrics_test")}
                  for name, c in cards.items()},
        "judge_model": args.judge_model if judge else None, "paper_reported": PAPER, "results": results,
    }
    report["reading"] = reading(results, report["cards"], sets)
    (RESULTS / "quality.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    write_markdown(report, RESULTS / "quality.md")
    print("\n".join(targets(results, report["cards"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
