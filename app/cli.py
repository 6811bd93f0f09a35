"""Command-line dispatcher: each command group registers its own argparse sub-parser."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app.errors import ConnectorError

# Each module exposes `register(subparsers)`, adding one command group whose
# leaf parsers set `func(args) -> int`.
_GROUPS = (
    "app.config.cli",
    "app.certs.cli",
    "app.apim.cli",
    "app.invites.cli",
    "app.store.cli",
    "app.simulate.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Entra API connector: configuration, certificates, APIM policies, "
        "invitations, simulator and conformance suite.",
    )
    sub = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for name in _GROUPS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConnectorError as exc:
        # One line, never a traceback: these are expected failures with a clear cause.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `... --json | head`: the reader left; say nothing more.
        sys.stderr.close()
        return 141
    return result
