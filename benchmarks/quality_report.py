"""The quality page (``benchmarks/results/quality.md``) and its plots, from the results ``quality.py`` measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_router.bench.pages import fmt, pct, usd
from edge_router.evaluation.runner import DEFAULT_PRICES, ORACLE, RANDOM

SEEDS = 20
LABEL_SETS = {
    "se": "semantic-entropy preferences of the on-device pair (Qwen 0.5B vs 1.5B, k = 5, τ = 0.1)",
    "accuracy": "the Qwen 0.5B greedy answer was wrong, same prompts (TO-Router-style baseline)",
    "outcome": "the pair's greedy answers, same prompts: strong when only the 1.5B was right (RouteLLM-style)",
    "rb-outcome": "GPT-4 vs Mixtral recorded outcomes on RouterBench train (ARC-Challenge, Winogrande, MBPP)",
}
PAPER = {
    "SE router (arXiv 2502.11021), MT-Bench": {"cpt50": 0.2731, "cost_at_cpt80_usd": 3.74,
                                              "random_cost_at_cpt80_usd": 4.06},
    "RouteLLM's best, MT-Bench": {"cpt50": 0.1340, "apgr": 0.802},
}
ON_DEVICE_MARGIN, ON_DEVICE_APGR = 0.10, 0.60
IN_DOMAIN_FOLDS, IN_DOMAIN_K = 5, 10
IN_DOMAIN = f"a kNN (k = {IN_DOMAIN_K}) cross-fitted in {IN_DOMAIN_FOLDS} folds on these outcomes"
PERFECT, LONGEST = "a perfect \"local answer wrong\" detector", "routing the longest first"


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


def result_table(result: dict, cards: dict) -> list[str]:
    judged = "judge_at_cpt80" in result
    head = ("| router | APGR | CPT(50%) | CPT(80%) | cost at CPT(80%) | AUROC here, strong better |"
            + (" judge score |" if judged else ""))
    lines = [head, "|---|---|---|---|---|---|" + ("---|" if judged else "")]
    for name, r in result["routers"].items():
        spread = r.get("spread")
        apgr = f"{r['apgr']:.3f}" + (f" ± {spread['apgr']:.3f}" if spread else "")
        cpt50 = pct(r["cpt50"]) + (f" ± {100 * spread['cpt50']:.1f}" if spread else "")
        cpt80 = pct(r["cpt80"]) + (f" ± {100 * spread['cpt80']:.1f}" if spread else "")
        cost = usd(r["cost_at_cpt80_usd"])
        label = f"**{name}** (chosen)" if cards.get(name, {}).get("chosen") else name
        row = f"| {label} | {apgr} | {cpt50} | {cpt80} | {cost} | {fmt(r.get('auroc_strong_better'))} |"
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
                         f"{pct(goal)} | {pct(r['cpt50'])} | {_verdict(gap, points=True)} |")
            lines.append(f"| on-device | {result['benchmark']} | {name} | APGR ≥ {ON_DEVICE_APGR:.2f} | "
                         f"{r['apgr']:.3f} | {_verdict(ON_DEVICE_APGR - r['apgr'])} |")
        elif result["pair"] == "gpt4-mixtral":
            for label_set in ("se", "rb-outcome"):
                name, r = chosen_result(result, cards, label_set)
                if result["benchmark"] == "mt-bench":
                    goal, text = PAPER["SE router (arXiv 2502.11021), MT-Bench"]["cpt50"], "CPT(50%) < 27.31 % (paper)"
                else:
                    goal = rnd["cpt50"] - 2 * rnd["spread"]["cpt50"]
                    text = f"CPT(50%) < random − 2 sd = {pct(goal)}"
                gap = r["cpt50"] - goal
                lines.append(f"| gpt4-mixtral | {result['benchmark']} | {name} | {text} | {pct(r['cpt50'])} | "
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
        lines.append(f"| {label} | {fmt(v['auroc_strong_wins'])} | {fmt(t['auroc_strong_wins'])} | "
                     f"{fmt(t['auroc_local_wrong'])} | {v['n']} / {t['n']} |")
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
                 f"{pct(r['cpt50'])} ({name}) |",
                 f"| MT-Bench APGR: RouteLLM 0.802 | 0.802 | {r['apgr']:.3f} ({name}) |",
                 f"| MT-Bench cost at CPT(80%): SE router $3.74 | $3.74 | ${r['cost_at_cpt80_usd']:.2f} ({name}) |"]
    rows += [f"| MT-Bench CPT(50%), random | 51.29 % | {pct(rnd['cpt50'])} ± {100 * rnd['spread']['cpt50']:.1f} |",
             f"| MT-Bench cost at CPT(80%), random | $4.06 | ${rnd['cost_at_cpt80_usd']:.2f} |"]
    return rows


def references(result: dict) -> str:
    """One reading line: what each reference reached on this evaluation set."""
    refs = result["references"]
    parts = [f"{name} reaches CPT(50%) {pct(r['cpt50'])}, APGR {r['apgr']:.3f}, AUROC strong better "
             f"{fmt(r['auroc_strong_better'])}" for name, r in refs.items()]
    tail = f" Question length ranks \"local wrong\" with AUROC {fmt(refs[LONGEST]['auroc_weak_wrong'])}." \
        if LONGEST in refs else ""
    return f"- {result['pair']} / {result['benchmark']}, references: " + "; ".join(parts) + "." + tail


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
                       f"{pct(r['cpt50'])} of strong calls against random's {pct(rnd['cpt50'])} ± "
                       f"{100 * rnd['spread']['cpt50']:.1f} ({margin:+.1f} sd); APGR {r['apgr']:.3f} against "
                       f"{rnd['apgr']:.3f}; it ranks \"strong better\" here with AUROC "
                       f"{fmt(r.get('auroc_strong_better'))}.")
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
