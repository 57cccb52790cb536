"""`edge-router feedback`, `learn` and `router history|rollback`: learning from the app's own traffic."""

from __future__ import annotations

import argparse
import json


def _store(args: argparse.Namespace):
    from pathlib import Path

    from ..errors import ConfigurationError
    from ..learning.store import DecisionStore, default_path

    path = Path(args.store) if args.store and args.store != "default" else default_path()
    if not path.is_file():
        raise ConfigurationError(f"no decision store at {path}: answer with --store PATH (or store= in the SDK) "
                                 "first, and point --store at the same file.")
    return DecisionStore(path)


def _cmd_feedback(args: argparse.Namespace) -> int:
    _store(args).label(args.id, args.local_ok)
    print(f"{args.id}: local answer {'good' if args.local_ok else 'not good'} enough, stored")
    return 0


def _base_router(args: argparse.Namespace):
    from ..backends.embedder import Embedder
    from ..backends.router_model import RouterModel, trained_on
    from ..errors import ConfigurationError
    from ..files.shipped import shipped_router

    path = args.router or shipped_router()
    if path is None:
        raise ConfigurationError("no router ships with this package: pass --router PATH.")
    embedder = Embedder(name=trained_on(path))
    return RouterModel(path, embedder_id=embedder.id, dim=embedder.dim), embedder


def _cmd_learn(args: argparse.Namespace) -> int:
    from ..learning.learn import learn

    base, embedder = _base_router(args)
    card = learn(_store(args), base, embedder, tolerance=args.tolerance)
    if args.json:
        print(json.dumps(card))
        return 0
    held = card["held_out_auroc_local_bad"]
    print(f"{card['version']}: {card['labels']} labels ({card['held_out']} held out), learned in "
          f"{card['seconds']:.2f} s")
    print(f"  held-out AUROC for a bad local answer: before {_fmt(held['before'])}, after {_fmt(held['after'])}")
    for name, v in card["label_test_split"].items():
        print(f"  the router's label test split, AUROC {name}: before {_fmt(v['before'])}, after {_fmt(v['after'])}")
    print("  adopted" if card["adopted"] else f"  not adopted: {card['why_not']} (tolerance {card['tolerance']})")
    return 0


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _cmd_history(args: argparse.Namespace) -> int:
    from ..learning.learn import history

    cards = history(_store(args))
    if not cards:
        print("no learned versions: the shipped router is in use")
    for c in cards:
        mark = "*" if c["current"] else " "
        print(f"{mark} {c['version']}: {c['labels']} labels, held-out AUROC "
              f"{_fmt(c['held_out_auroc_local_bad']['after'])}, {'adopted' if c['adopted'] else 'not adopted'}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from ..learning.learn import rollback

    previous = rollback(_store(args))
    print(f"now in use: {previous or 'the shipped router'}")
    return 0


def add_commands(sub, command) -> None:
    """feedback, learn, router history and router rollback."""
    def store_option(parser):
        parser.add_argument("--store", metavar="PATH", help="the decision store (default: the platform's user data "
                                                             "folder, as --store default)")

    feedback = command(sub, "feedback", help="say whether the device's answer to a stored decision was good enough")
    feedback.add_argument("id", help="the decision's id (the answer's id; serve's response id)")
    good = feedback.add_mutually_exclusive_group(required=True)
    good.add_argument("--local-ok", dest="local_ok", action="store_true", help="the device's answer was good enough")
    good.add_argument("--local-bad", dest="local_ok", action="store_false", help="it was not")
    store_option(feedback)
    feedback.set_defaults(func=_cmd_feedback)
    learning = command(sub, "learn", help="update the router from the store's feedback (a new version, checked)")
    store_option(learning)
    learning.add_argument("--router", metavar="PATH", help="the router it updates (default: the shipped one)")
    learning.add_argument("--tolerance", type=float, default=0.02,
                          help="the most the router's own label test split may get worse (AUROC; default 0.02)")
    learning.add_argument("--json", action="store_true", help="print the new version's card as JSON")
    learning.set_defaults(func=_cmd_learn)
    router = command(sub, "router", help="the learned router versions")
    router_sub = router.add_subparsers(dest="router_command", required=True)
    for name, func, text in (("history", _cmd_history, "every learned version, the one in use marked *"),
                             ("rollback", _cmd_rollback, "go back to the version in use before this one")):
        parser = command(router_sub, name, help=text)
        store_option(parser)
        parser.set_defaults(func=func)
