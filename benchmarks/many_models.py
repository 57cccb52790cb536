"""A router over many models, on RouterBench's 11-model records: ``benchmarks/results/many_models.md``, ``.json``
and ``many_models.png`` (the accuracy–cost plane).

The predictor (``edge_router.routing.model_choice``) is fitted on the train rows (its settings chosen on a held-out
fifth of them) and every figure is measured on the test rows, with Mistral-7B taken as the device (free). See
``edge_router.evaluation.many_models`` for the policies, the oracle, the two-model routers and AIQ.

    python benchmarks/many_models.py
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from edge_router import Embedder
from edge_router.bench import environment
from edge_router.bench.pages import pct, write_json
from edge_router.data.embedding_cache import EmbeddingCache
from edge_router.evaluation.many_models import cheapest_at, evaluate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GPT4 = "gpt-4-1106-preview"
TARGET_COST_SHARE = 0.40


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, p in result["single_models"].items():
        ax.scatter(p["cost_usd"], p["accuracy"], color="grey", s=18)
        ax.annotate(name.split("/")[-1], (p["cost_usd"], p["accuracy"]), fontsize=7, xytext=(3, 2),
                    textcoords="offset points")
    for policy, style in (("value", "-o"), ("tolerance", "--s")):
        points = sorted(result["router"][policy], key=lambda p: p["cost_usd"])
        ax.plot([p["cost_usd"] for p in points], [p["accuracy"] for p in points], style, markersize=3,
                label=f"router ({policy})")
    ax.scatter(result["oracle"]["cost_usd"], result["oracle"]["accuracy"], marker="*", s=120, color="black",
               label="oracle")
    ax.set_xscale("symlog", linthresh=0.05)
    ax.set_xlabel("cost of the test rows, USD (symlog)")
    ax.set_ylabel("accuracy")
    ax.set_title("RouterBench test rows: many-model router against single models")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    try:
        result = evaluate(EmbeddingCache(Embedder()).embed)
    except Exception as exc:  # the shared RouterBench records are absent on this machine
        print(f"skipped: {exc}", file=sys.stderr)
        return 1
    gpt4 = result["single_models"][GPT4]
    at = {policy: cheapest_at(points, gpt4["accuracy"]) for policy, points in result["router"].items()}
    aiq = result["aiq"]
    best_single = max((k for k in aiq if k.startswith("single: ")), key=aiq.get)
    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), **result, "gpt4_accuracy_at": at}
    write_json(report, RESULTS / "many_models.json")
    plot(result, RESULTS / "many_models.png")
    share = {p: (c / gpt4["cost_usd"] if c is not None else None) for p, c in at.items()}
    met_cost = share["value"] is not None and share["value"] <= TARGET_COST_SHARE
    met_aiq = aiq["router (value)"] > max(aiq[best_single], aiq["best two-model router"])
    lines = ["# A router over many models (RouterBench)", "",
             f"Generated {report['generated']} by `benchmarks/many_models.py` on {report['environment']['cpu']} "
             f"({report['environment']['cores']} cores). RouterBench's ARC-Challenge, Winogrande and MBPP rows "
             f"with every model's record: {result['rows']['train']} train, {result['rows']['test']} test "
             f"({result['dropped_incomplete']['test']} test rows lack a model's record and are left out, as are the "
             "few rows whose prompt is a conversation). "
             f"`{result['device']}` is taken as the device: its answers cost nothing. The predictor's settings "
             f"({', '.join(f'{k} = {v:g}' for k, v in result['settings'].items())}) were chosen by AIQ on a "
             "held-out fifth of the train rows; all figures below are on the test rows.", "",
             "![accuracy against cost](many_models.png)", "", "## Targets", "",
             "| target | measured | verdict |", "|---|---|---|",
             f"| GPT-4's accuracy ({pct(gpt4['accuracy'])}) at ≤ {TARGET_COST_SHARE:.0%} of its cost "
             f"(${gpt4['cost_usd']:.2f}) | " + (f"${at['value']:.2f} ({pct(share['value'])} of its cost)"
                                                if at["value"] is not None else "never reached")
             + f" | {'met' if met_cost else 'missed'} |",
             f"| AIQ above every single model's ({aiq[best_single]:.3f}, {best_single[8:]}) and the best two-model "
             f"router's ({aiq['best two-model router']:.3f}, {result['best_pair']}) | {aiq['router (value)']:.3f} | "
             f"{'met' if met_aiq else 'missed'} |", "",
             "## Single models and the oracle", "", "| model | accuracy | cost USD | AIQ |", "|---|---|---|---|"]
    for name, p in result["single_models"].items():
        lines.append(f"| {name}{' (device)' if name == result['device'] else ''} | {pct(p['accuracy'])} | "
                     f"{p['cost_usd']:.3f} | {aiq['single: ' + name]:.3f} |")
    lines += [f"| oracle | {pct(result['oracle']['accuracy'])} | {result['oracle']['cost_usd']:.3f} | "
              f"{aiq['oracle']:.3f} |", "",
              "## The router along its knob (quality − λ · cost)", "",
              f"AIQ {aiq['router (value)']:.3f}; with the tolerance policy (the cheapest model within t of the best "
              f"prediction) {aiq['router (tolerance)']:.3f}.", "", "| λ | accuracy | cost USD |", "|---|---|---|"]
    lines += [f"| {p['knob']:.3g} | {pct(p['accuracy'])} | {p['cost_usd']:.3f} |" for p in result["router"]["value"]]
    lines += ["", "## Why GPT-4's accuracy costs nearly GPT-4's price", "",
              "The router reaches GPT-4's accuracy only by sending nearly every question to GPT-4: the questions "
              "where GPT-4 alone is right are not told apart by their embedding (the kNN's neighbours mostly agree "
              "that several cheaper models are right), so each step toward GPT-4's accuracy buys GPT-4 for many "
              "questions that did not need it. Below that, the curve is far better than any single model: see the "
              "table for the accuracy reached at a tenth of GPT-4's cost."]
    (RESULTS / "many_models.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[7:12]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
