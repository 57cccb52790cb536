"""The commands that answer: ask, route and serve."""

from __future__ import annotations

import argparse
import json
import sys

from .. import defaults, settings
from ..errors import require
from . import options


def _router_options(parser: argparse.ArgumentParser, *, prompt: bool = True, answers: bool = True) -> None:
    """The prompt's options, then every ``RouterSettings`` field (``edge_router.config``) as an option."""
    from ..config import GROUPS, add_options

    if prompt:
        parser.add_argument("prompt", help="the question (a single user message)")
        parser.add_argument("--system", metavar="TEXT", help="a system message before the question")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--force", choices=defaults.ROUTES, help="skip the decision and send the query this way")
    add_options(parser, groups=GROUPS if answers else tuple(g for g in GROUPS if g != "answer"))


def _build_router(args: argparse.Namespace):
    from ..config import from_args
    from ..routing.runtime import EdgeRouter

    return EdgeRouter.from_settings(from_args(args), cloud_from_env=getattr(args, "force", None) != "local")


def _describe(decision) -> str:
    t = decision.timings_ms
    line = f"route: {decision.route} ({decision.mode}) because {decision.reason}; decided in {t['total']:.1f} ms"
    if decision.models.get("router"):
        line += f"\nrouter: {decision.models['router']} on {decision.models['embedder']}"
    if decision.fallback:
        line += f"\nfallback: {decision.fallback}" + (" [degraded]" if decision.degraded else "")
    return line


def _messages(args: argparse.Namespace) -> list[dict]:
    system = [{"role": "system", "content": args.system}] if args.system else []
    return [*system, {"role": "user", "content": args.prompt}]


def _cmd_route(args: argparse.Namespace) -> int:
    decision = _build_router(args).route(_messages(args), force=args.force)
    print(json.dumps(decision.to_dict()) if args.json else _describe(decision))
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from ..backends.completions import Sampling

    sampling = Sampling(temperature=args.temperature, seed=args.seed) if args.temperature or args.seed else None
    answer = _build_router(args).chat(_messages(args), force=args.force, sampling=sampling)
    if args.json:
        print(json.dumps(answer.to_dict()))
    else:
        print(answer.text)
        print()
        print(_describe(answer.decision))
        cost = "unknown" if answer.cost_usd is None else f"${answer.cost_usd:.6f}"
        print(f"answered by {answer.model} in {answer.answer_ms:.0f} ms; cost {cost}")
    if args.force and answer.route != args.force:  # the answer is printed, and the failure said
        print(f"edge-router: error: forced to the {args.force}, but the {answer.route} answered "
              f"({answer.decision.fallback})", file=sys.stderr)
        return 2
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:

    for module in ("fastapi", "uvicorn", "prometheus_client"):
        require(module, "'edge-router[server]'")
    import uvicorn

    from ..serving.server import check_binding, create_app

    token = settings.server_token()
    check_binding(args.host, allow_remote=args.allow_remote, token=token)
    app = create_app(_build_router(args), token=token)
    print(f"edge-router serving an OpenAI-compatible API on http://{args.host}:{args.port}/v1", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=30)
    return 0


def add_commands(sub, command) -> None:
    """ask, route and serve."""
    ask = command(sub, "ask", help="route and answer a prompt")
    _router_options(ask)
    ask.add_argument("--temperature", type=float, help="sample the answer at this temperature (default: greedy)")
    ask.add_argument("--seed", type=int, help="make a sampled answer repeatable")
    ask.set_defaults(func=_cmd_ask)

    route = command(sub, "route", help="decide local or cloud for a prompt without answering it")
    _router_options(route, answers=False)
    route.set_defaults(func=_cmd_route)

    serve = command(sub, "serve", help="an OpenAI-compatible endpoint on this machine that routes each request")
    _router_options(serve, prompt=False)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=options.port, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a non-loopback address (needs EDGE_ROUTER_SERVER_TOKEN)")
    serve.set_defaults(func=_cmd_serve)
