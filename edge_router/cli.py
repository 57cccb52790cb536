"""The ``edge-router`` command: ask, route, models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from .errors import EdgeRouterError


def _router_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="the question (a single user message)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--router", metavar="PATH", help="a trained router file (ONNX); default: the uncertainty gate")
    parser.add_argument("--threshold", type=float, default=0.5, help="router score at which to offload (default 0.5)")
    parser.add_argument("--gate", action="store_true", help="with --router: also gate local choices by semantic entropy")
    parser.add_argument("--force", choices=("local", "cloud"), help="skip the decision and send the query this way")
    parser.add_argument("--max-tokens", type=int, default=256, help="answer length limit (default 256)")
    parser.add_argument("--threads", type=int, default=None, help="threads for the local model (default: all CPUs)")
    parser.add_argument("--embedder", metavar="NAME", help="a registered embedder (see `edge-router models list`)")


def _build_router(args: argparse.Namespace):
    from .runtime import EdgeRouter

    return EdgeRouter.from_defaults(
        router_path=args.router, threshold=args.threshold, gate=True if args.gate else None,
        threads=args.threads, max_tokens=args.max_tokens, embedder_name=args.embedder,
    )


def _describe(decision) -> str:
    t = decision.timings_ms
    line = f"route: {decision.route} ({decision.mode}) because {decision.reason}; decided in {t['total']:.1f} ms"
    if decision.fallback:
        line += f"\nfallback: {decision.fallback}" + (" [degraded]" if decision.degraded else "")
    return line


def _cmd_route(args: argparse.Namespace) -> int:
    decision = _build_router(args).route(args.prompt, force=args.force)
    print(json.dumps(decision.to_dict()) if args.json else _describe(decision))
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    answer = _build_router(args).chat(args.prompt, force=args.force)
    if args.json:
        print(json.dumps(answer.to_dict()))
    else:
        print(answer.text)
        print()
        print(_describe(answer.decision))
        cost = "unknown" if answer.cost_usd is None else f"${answer.cost_usd:.6f}"
        print(f"answered by {answer.model} in {answer.answer_ms:.0f} ms; cost {cost}")
    return 0


def _cmd_models_list(args: argparse.Namespace) -> int:
    from . import model_store, registry

    rows = []
    for spec in registry.all_specs():
        cached = model_store.is_cached(spec)
        rows.append({
            "name": spec.name, "role": spec.role, "size": spec.size, "cached": cached,
            "path": str(model_store.cached_path(spec)), "license": spec.license,
        })
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'name':32} {'role':10} {'size':>10}  {'cached':6}  path")
    for r in rows:
        size = f"{r['size'] / 1e6:.1f} MB"
        print(f"{r['name']:32} {r['role']:10} {size:>10}  {'yes' if r['cached'] else 'no':6}  {r['path']}")
    return 0


def _cmd_models_pull(args: argparse.Namespace) -> int:
    from . import model_store, registry

    specs = [registry.get_spec(args.name)] if args.name else registry.all_specs()
    for spec in specs:
        if model_store.is_cached(spec):
            print(f"{spec.name}: cached at {model_store.cached_path(spec)}")
            continue
        path = model_store.resolve(spec, progress=True)
        print(f"{spec.name}: verified, at {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .benchmark import harness, report

    results = harness.run(quick=args.quick, router_path=Path(args.router) if args.router else None,
                          log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.json:
        report.write_json(results, args.json)
    if args.report:
        report.write_markdown(results, args.report)
    for t in results["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        print(f"{verdict:6} {t['name']}: {t['measured']:.2f} {t['unit']} (limit {t['limit']:g} {t['unit']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-router", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="route and answer a prompt")
    _router_options(ask)
    ask.set_defaults(func=_cmd_ask)

    route = sub.add_parser("route", help="decide local or cloud for a prompt without answering it")
    _router_options(route)
    route.set_defaults(func=_cmd_route)

    bench = sub.add_parser("bench", help="measure what routing costs on this machine")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions, 32-token prompts only (< 60 s)")
    bench.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    bench.add_argument("--report", metavar="PATH", help="write a Markdown report (and a PNG plot beside it)")
    bench.add_argument("--router", metavar="PATH", help="a router file to time (default: a logistic one)")
    bench.set_defaults(func=_cmd_bench)

    models = sub.add_parser("models", help="list and fetch model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    listing = models_sub.add_parser("list", help="name, role, size, cached or not, path")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_cmd_models_list)
    pull = models_sub.add_parser("pull", help="fetch and verify model files (all by default)")
    pull.add_argument("name", nargs="?", help="one model name from `edge-router models list`")
    pull.set_defaults(func=_cmd_models_pull)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except EdgeRouterError as exc:
        print(f"edge-router: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
