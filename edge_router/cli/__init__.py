"""The ``edge-router`` command: ask, route, serve (``answering``), bench, label, train, calibrate, eval (``lab``),
models (``models``), feedback, learn, router (``learning``); options several commands share are in ``options``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ..errors import EdgeRouterError
from . import answering, lab, learning, models


class _OneLineParser(argparse.ArgumentParser):
    """argparse's own errors (an unknown flag, a bad choice) as one line on stderr and exit status 2, like every
    other failure; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _verbosity_options() -> argparse.ArgumentParser:
    """-v / -q, accepted before or after the subcommand."""
    common = _OneLineParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log at INFO level")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print errors only (no warnings)")
    return common


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    common = _verbosity_options()
    parser = _OneLineParser(prog="edge-router", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"edge-router {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(group, name: str, **kwargs) -> argparse.ArgumentParser:
        return group.add_parser(name, parents=[common], **kwargs)  # -v/-q after the subcommand too

    answering.add_commands(sub, command)
    lab.add_commands(sub, command)
    models.add_commands(sub, command)
    learning.add_commands(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: every failure ends in one line on stderr and exit status 2 (130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("edge-router: interrupted", file=sys.stderr)
        return 130
    except EdgeRouterError as exc:
        print(f"edge-router: error: {exc}", file=sys.stderr)
    except OSError as exc:  # an unwritable cache or trace file, a port in use ...
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"edge-router: error: {exc.strerror or exc}{where}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
