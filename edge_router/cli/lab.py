"""The lab's commands: label, train, calibrate, eval and bench."""

from __future__ import annotations

import argparse
import json
import sys

from .. import defaults
from ..config import positive_int
from ..errors import InvalidInputError
from . import options


def _cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..bench import harness, report

    results = harness.run(quick=args.quick, router_path=Path(args.router) if args.router else None,
                          labels=Path(args.labels) if args.labels else None,
                          log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.json:
        report.write_json(results, args.json)
    if args.report:
        report.write_markdown(results, args.report)
    for t in results["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        print(f"{verdict:6} {t['name']}: {t['measured']:.2f} {t['unit']} (limit {t['limit']:g} {t['unit']})")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    from ..backends.cloud_llm import CloudLLM
    from ..backends.embedder import Embedder
    from ..backends.local_llm import LocalLLM
    from ..data import datasets
    from ..training.labels import LabelConfig, label_prompts
    from ..uncertainty.entailment import clusterer_named

    if not args.dataset and not args.prompts:
        raise InvalidInputError(f"give --dataset NAME ({', '.join(defaults.TRAINING_SETS)}) and/or "
                                "--prompts FILE.jsonl.")
    prompts = [p for name in args.dataset or () for p in datasets.load(name, limit=args.limit, seed=args.seed)]
    if args.prompts:
        prompts += datasets.load_jsonl(args.prompts, limit=args.limit, seed=args.seed)
    prompts, dropped = datasets.without_evaluation_prompts(prompts)
    if dropped:
        print(f"left out {dropped} prompts that are evaluation questions (GSM8K, MMLU test, MT-Bench)",
              file=sys.stderr)
    urls, names = args.strong_base_url or [], args.strong_model or []
    if len(urls) != len(names):
        raise InvalidInputError(f"give one --strong-model per --strong-base-url ({len(urls)} URLs, {len(names)} "
                                "models), in the same order.")
    specs = tuple({"base_url": url, "model": name, "name": f"{name}@{i}" if names.count(name) > 1 else name,
                   "extra_body": args.strong_extra_body, "deadline_s": args.strong_deadline}
                  for i, (url, name) in enumerate(zip(urls, names)))
    endpoints = [CloudLLM(**spec) for spec in specs]  # checked here, before any model loads
    strong, others = (endpoints[0], endpoints[1:]) if endpoints else (None, [])
    config = LabelConfig(k=args.k, max_tokens=args.max_tokens, tau=args.tau, strong_se=args.strong_se,
                         privacy=args.privacy, by=args.label_by or ("gold" if args.prompts else "se"),
                         seed=args.seed)
    if strong is None:
        print(f"no strong model sampled: labels compare the local SE with a fixed strong SE of {args.strong_se}",
              file=sys.stderr)
    if args.ray:
        from ..scale.ray_labelling import WorkerSpec, label_on_ray

        spec = WorkerSpec(args.local_model, threads=args.threads or 1, strong=specs, clusterer=args.clusterer,
                          embedder=args.embedder, config=config)
        summary = label_on_ray(prompts, args.out, spec=spec, actors=args.actors, address=args.ray,
                               cloud_concurrency=args.cloud_concurrency)
    else:
        # Labels describe the model itself: its greedy answer without the answers' repetition penalty, as every
        # label row so far was made.
        weak = LocalLLM(args.local_model, threads=args.threads, seed=args.seed, repeat_penalty=1.0)
        embedder = Embedder(name=args.embedder) if args.clusterer == "embedding" else None
        clusterer = clusterer_named(args.clusterer, embedder)
        summary = label_prompts(prompts, args.out, weak=weak, strong=strong, clusterer=clusterer, config=config,
                                others=others)
    print(json.dumps(summary) if args.json else
          f"labelled {summary['labelled']} prompts ({summary['already_done']} already in {args.out}) at "
          f"{summary['prompts_per_minute']:.1f} prompts/minute"
          + (f"; {summary['private']} holding personal data were not sent to the strong endpoint (--privacy)"
             if summary["private"] else ""))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ..backends.embedder import Embedder
    from ..training.trainer import train

    cards = train(args.labels, args.out, embedder=Embedder(name=args.embedder), kinds=args.kind, target=args.target)
    if args.json:
        print(json.dumps(cards))
        return 0
    print(f"{'kind':5} {'file':>10}  {'AUROC strong wins':>17}  {'AUROC local wrong':>17}  test prompts")
    for kind, card in cards.items():
        m = card["metrics_test"]
        wrong = "n/a" if m["auroc_local_wrong"] is None else f"{m['auroc_local_wrong']:.3f}"
        print(f"{kind:5} {card['file_bytes'] / 1e3:>8.0f}kB  {m['auroc_strong_wins']:>17.3f}  {wrong:>17}  {m['n']}")
    print(f"router files and cards in {args.out}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ..backends.embedder import Embedder
    from ..training.trainer import calibrate

    table = calibrate(args.router, args.labels, embedder=Embedder(name=args.embedder), split=args.split)
    for row in table:
        print(f"cloud share {row['cloud_share']:.0%}: threshold {row['threshold']:.4f}")
    print("written to the router's card. The share holds only for prompts like the calibration ones: "
          "recalibrate on your own traffic, or use an online budget (EdgeRouter(cloud_share=..., budget_window=...)).")
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f} %"


def _eval_many_models(args: argparse.Namespace) -> int:
    """``eval --benchmark routerbench``: the many-model router's points along its knob, each model's, the oracle's."""
    from ..backends.embedder import Embedder
    from ..data.embedding_cache import EmbeddingCache
    from ..evaluation.many_models import evaluate

    result = evaluate(EmbeddingCache(Embedder(name=args.embedder)).embed)
    out = {"benchmark": "routerbench", "device": result["device"], "rows": result["rows"],
           "default": {"policy": "quality - lambda * cost", "settings": result["settings"],
                       "points": result["router"]["value"], "aiq": result["aiq"]["router (value)"]},
           "single_models": result["single_models"], "oracle": result["oracle"], "aiq": result["aiq"]}
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"routerbench test rows: {result['rows']['test']} ({result['device']} taken as the device, at no cost)")
    print(f"{'model or router':44} {'accuracy':>9} {'cost USD':>9} {'AIQ':>6}")
    for name, p in [*result["single_models"].items(), ("oracle", result["oracle"])]:
        key = name if name == "oracle" else f"single: {name}"
        print(f"{name:44} {_pct(p['accuracy']):>9} {p['cost_usd']:9.3f} {result['aiq'][key]:6.3f}")
    for p in result["router"]["value"][::8]:
        print(f"{'router, lambda = ' + format(p['knob'], '.3g'):44} {_pct(p['accuracy']):>9} {p['cost_usd']:9.3f}")
    print(f"router AIQ {result['aiq']['router (value)']:.3f}; best two-model router ({result['best_pair']}) "
          f"{result['aiq']['best two-model router']:.3f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.benchmark == "routerbench":
        return _eval_many_models(args)
    from ..backends.cloud_llm import CloudLLM
    from ..backends.embedder import Embedder
    from ..data import eval_data
    from ..evaluation.quality import PairPrices
    from ..evaluation.runner import run, table
    from ..files.shipped import shipped_router

    benchmarks = list(eval_data.BENCHMARKS) if args.benchmark == "all" else [args.benchmark]
    if args.pair != "gpt4-mixtral" and args.benchmark == "all":
        benchmarks.remove("mt-bench")
    prices = None
    if args.prices:
        print("edge-router: warning: eval's --prices is now --pair-prices (ask, route and serve's --prices is "
              "the cloud's two prices)", file=sys.stderr)
    pair_prices = args.pair_prices or args.prices
    if pair_prices:
        try:
            prices = PairPrices.of(*(float(v) for v in pair_prices.split(",")))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("--pair-prices takes four numbers: strong_in,strong_out,weak_in,weak_out "
                                    "(USD per million tokens).") from exc
    judge = CloudLLM(base_url=args.judge_base_url, model=args.judge_model) if args.judge_base_url else None
    routers = args.router or [shipped_router()]
    if routers == [None]:
        raise InvalidInputError("No router ships with this package yet: pass router files with --router PATH ... "
                                "(train them with `edge-router train`).")
    # Without --router the shipped decision is evaluated as it decides by default: its router combined with the
    # prefill probe (unless --no-prefill-probe), from the probe's stored scores of every evaluated question.
    results = run(benchmarks, pair=args.pair, router_paths=routers, embedder=Embedder(name=args.embedder),
                  seeds=args.seeds, judge_client=judge, judge_limit=args.judge_limit, prices=prices,
                  default_policy="default" if args.prefill_probe and not args.router else None,
                  turn=args.turn, routing_turns=args.routing_turns)
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    for result in results:
        policy = f", default policy: {result['default_policy']}" if "default_policy" in result else ""
        print(f"\n{result['benchmark']} ({result['pair']}, {result['n']} questions{policy}, "
              f"{result['dropped_contaminated']} contaminated dropped): strong {result['strong_mean']:.3f}, "
              f"weak {result['weak_mean']:.3f} ({result['outcome']})")
        print(f"{'router':24} {'APGR':>7} {'CPT(50%)':>10} {'CPT(80%)':>10} {'cost@CPT(80%)':>14} {'judge':>6}")
        for row in table(result):
            cost = "n/a" if row["cost_at_cpt80_usd"] is None else f"${row['cost_at_cpt80_usd']:.2f}"
            judge_score = "" if row["judge"] is None else f"{row['judge']:.1f}"
            print(f"{row['router']:24} {row['apgr']:7.3f} {_pct(row['cpt50']):>10} {_pct(row['cpt80']):>10} "
                  f"{cost:>14} {judge_score:>6}")
    return 0


def add_commands(sub, command) -> None:
    """bench, label, train, calibrate and eval."""
    bench = command(sub, "bench", help="measure what routing costs on this machine")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions, 32-token prompts only (a few minutes)")
    bench.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    bench.add_argument("--report", metavar="PATH", help="write a Markdown report (and a PNG plot beside it)")
    bench.add_argument("--router", metavar="PATH", help="the router file to time; its embedder is the default "
                       "encoder (default: the shipped router, else the registry's embedder)")
    bench.add_argument("--labels", metavar="PATH", help="labels that train one router per encoder for the quality "
                       "columns (default: models/routers/qwen-pair.labels.jsonl.gz of a source checkout)")
    bench.set_defaults(func=_cmd_bench)

    label = command(sub, "label", help="label prompts with semantic-entropy preferences (resumable)")
    label.add_argument("--dataset", nargs="+", choices=defaults.TRAINING_SETS,
                       help="built-in training sets (evaluation sets are never labelled)")
    label.add_argument("--prompts", metavar="FILE", help="a JSONL file with 'prompt' (and optional 'answers')")
    label.add_argument("--out", required=True, metavar="PATH", help="the label file (JSONL, appended, resumed)")
    label.add_argument("--limit", type=int, help="prompts per source (the first N after a seeded shuffle)")
    label.add_argument("--seed", type=int, default=0, help="shuffle and sampling seed (default 0)")
    label.add_argument("--k", type=int, default=5, help="samples per model (default 5)")
    label.add_argument("--max-tokens", type=int, default=32, help="tokens per sample (default 32)")
    label.add_argument("--tau", type=float, default=0.1, help="tie threshold on δ (default 0.1)")
    label.add_argument("--strong-se", type=float, default=0.0,
                       help="the strong model's SE when none is sampled (default 0: a confident cloud)")
    label.add_argument("--strong-base-url", nargs="+", metavar="URL",
                       help="OpenAI-compatible endpoints to sample as strong models; the first decides the label, "
                            "every one is stored (a router over many models reads them)")
    label.add_argument("--strong-model", nargs="+", metavar="NAME", help="each strong endpoint's model name")
    label.add_argument("--strong-deadline", type=float, default=300.0, metavar="SECONDS",
                       help="per strong answer, retries included (default 300: k samples of a CPU stand-in are slow); "
                       "a prompt whose strong side fails is left for the next run")
    label.add_argument("--strong-extra-body", type=options.json_object, metavar="JSON", default=None,
                       help='fields added to every strong request, e.g. \'{"top_k": 0, "min_p": 0}\' for a llama.cpp '
                       "server (unrestricted sampling, as on the device)")
    label.add_argument("--privacy", choices=("keep-local", "redact", "off"), default="keep-local",
                       help="prompts holding personal data or secrets: not sent to the strong endpoint (keep-local, "
                       "the default; they stay unlabelled), sent with placeholders (redact), or sent (off)")
    label.add_argument("--label-by", choices=("se", "gold"), default=None,
                       help="gold: prompts with gold answers are labelled by which side answered right, the rest by "
                            "semantic entropy (default for --prompts); se: by semantic entropy only (default for "
                            "--dataset)")
    label.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="label on Ray actors: 'local' (the default) starts a Ray here, 'auto' or an address "
                            "joins a cluster (needs the scale extra)")
    label.add_argument("--actors", type=positive_int, default=2, help="with --ray: actors, each with its own local "
                                                                     "model on --threads threads (default 2)")
    label.add_argument("--cloud-concurrency", type=positive_int, metavar="N",
                       help="with --ray: at most N strong-endpoint calls in flight across all actors")
    label.add_argument("--clusterer", choices=defaults.CLUSTERERS, default=defaults.CLUSTERER,
                       help=f"how both models' samples are clustered (default {defaults.CLUSTERER})")
    options.local_model_option(label)
    options.embedder_option(label, " for the embedding clusterers")
    label.add_argument("--json", action="store_true", help="print the summary as JSON")
    label.set_defaults(func=_cmd_label)

    train = command(sub, "train", help="train routers from a label file and export them to ONNX")
    train.add_argument("--labels", required=True, metavar="PATH", help="a label file from `edge-router label`")
    train.add_argument("--out", required=True, metavar="DIR", help="where the router files and cards go")
    train.add_argument("--kind", nargs="+", choices=("knn", "sw", "mf", "mlp"), help="kinds to train (default: all)")
    options.embedder_option(train)
    train.add_argument("--target", choices=("se", "local-wrong"), default="se",
                       help="learn the SE preference labels (default) or whether the local answer was wrong")
    train.add_argument("--json", action="store_true", help="print the cards as JSON")
    train.set_defaults(func=_cmd_train)

    cal = command(sub, "calibrate", help="thresholds for 10 %%..90 %% cloud shares, into the router's card")
    cal.add_argument("router", metavar="ROUTER", help="a router file")
    cal.add_argument("--labels", required=True, metavar="PATH", help="a label file (its calibration split is used)")
    cal.add_argument("--split", default="calibration", choices=("train", "calibration", "test"),
                     help="which hash split of the labels to calibrate on (default calibration)")
    options.embedder_option(cal, " (the one the router was trained on)")
    cal.set_defaults(func=_cmd_calibrate)

    ev = command(sub, "eval", help="routing quality (PGR, CPT, APGR, cost, judge) on GSM8K, MMLU, MT-Bench")
    ev.add_argument("--benchmark", choices=("gsm8k", "mmlu", "mt-bench", "routerbench", "all"), default="all",
                    help="which benchmark (default all: GSM8K, MMLU and MT-Bench, or GSM8K and MMLU for the measured "
                         "pairs; routerbench: the many-model router on RouterBench's 11 models)")
    ev.add_argument("--router", nargs="+", metavar="PATH",
                    help="router files to evaluate (default: the router the package ships)")
    ev.add_argument("--pair", choices=defaults.EVAL_PAIRS, default="gpt4-mixtral",
                    help="GPT-4 vs Mixtral as recorded by RouteLLM (default), GPT-4 vs the local model measured here, "
                    "or on-device: the local model vs the stand-in's stronger model, both measured here")
    ev.add_argument("--prefill-probe", action=argparse.BooleanOptionalAction, default=True,
                    help="evaluate the shipped decision as it decides by default: its router combined with the "
                    "prefill probe where the probe ships for the pair's local model, from the probe's stored "
                    "scores (--no-prefill-probe: the router alone)")
    ev.add_argument("--json", metavar="PATH", help="write every result (curves included) as JSON")
    ev.add_argument("--seeds", type=int, default=10, help="random-routing seeds (default 10)")
    options.embedder_option(ev, " (the one the routers were trained on)")
    ev.add_argument("--pair-prices", metavar="SI,SO,WI,WO", help="USD per million tokens of the strong and the weak "
                    "model (default: see README)")
    ev.add_argument("--prices", metavar="SI,SO,WI,WO", help=argparse.SUPPRESS)  # the old name of --pair-prices
    ev.add_argument("--judge-base-url", help="an OpenAI-compatible endpoint for the LLM-as-a-judge score")
    ev.add_argument("--judge-model", help="the judge endpoint's model name")
    ev.add_argument("--turn", type=int, choices=(1, 2), help="MT-Bench only: score this turn alone (default: both "
                    "turns' mean, routed on the first)")
    ev.add_argument("--routing-turns", type=positive_int, default=1, metavar="N",
                    help="with --turn: route on the conversation's last N user turns, newest first (default 1)")
    ev.add_argument("--judge-limit", type=int, help="judge only the first N queries of each benchmark")
    ev.set_defaults(func=_cmd_eval)
