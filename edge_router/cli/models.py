"""`edge-router models`: list and fetch model files."""

from __future__ import annotations

import argparse
import json


def _cmd_models_list(args: argparse.Namespace) -> int:
    from ..files import model_store, registry

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
    print(f"{'name':38} {'role':13} {'size':>10}  {'cached':6}  path")
    for r in rows:
        size = f"{r['size'] / 1e6:.1f} MB"
        print(f"{r['name']:38} {r['role']:13} {size:>10}  {'yes' if r['cached'] else 'no':6}  {r['path']}")
    return 0


def _cmd_models_pull(args: argparse.Namespace) -> int:
    from ..files import model_store, registry

    # By default every file the runtime uses; training bases only when named.
    specs = [registry.get_spec(args.name)] if args.name else [
        s for s in registry.all_specs() if s.role != "training-base"]
    for spec in specs:
        if model_store.is_cached(spec):
            print(f"{spec.name}: cached at {model_store.cached_path(spec)}")
            continue
        optional = [s for s in spec.sources if isinstance(s, registry.PackageSource) and s.install]
        if not args.name and optional and not any(s.installed() for s in optional):
            print(f"{spec.name}: skipped, its package is optional and not installed ({optional[0].install})")
            continue
        path = model_store.resolve(spec, progress=True)
        print(f"{spec.name}: verified, at {path}")
    return 0


def add_commands(sub, command) -> None:
    """models list and models pull."""
    models = command(sub, "models", help="list and fetch model files")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    listing = command(models_sub, "list", help="name, role, size, cached or not, path")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_cmd_models_list)
    pull = command(models_sub, "pull", help="fetch and verify model files (all the runtime uses by default)")
    pull.add_argument("name", nargs="?", help="one model name from `edge-router models list`")
    pull.set_defaults(func=_cmd_models_pull)
