"""Options and argument parsers several commands share."""

from __future__ import annotations

import argparse
import json


def embedder_option(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("--embedder", metavar="NAME",
                        help=f"a registered embedder{what} (see `edge-router models list`; default: the registry's)")


def local_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local-model", metavar="NAME_OR_PATH",
                        help="the local model: a registry name or a GGUF file (default: the registry's local model)")
    parser.add_argument("--threads", type=int, default=None, help="threads for the local model (default: all CPUs)")


def json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)")
    return port
