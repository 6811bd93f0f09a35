"""`python -m app store migrate`: create or upgrade the store's schema."""

from __future__ import annotations

import argparse
from typing import Any

from app.config import load_config
from app.store import open_store


def register(sub: Any) -> None:
    group = sub.add_parser("store", help="the store: migrate")
    cmds = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate = cmds.add_parser(
        "migrate", help="apply pending schema migrations (the service also does at start-up)"
    )
    migrate.add_argument("--config", help="TOML file (default: $CONNECTOR_CONFIG)")
    migrate.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    store = open_store(load_config(args.config).store)
    try:
        report = store.migrate()
    finally:
        store.close()
    applied = ", ".join(map(str, report.applied)) if report.applied else "none (up to date)"
    print(f"{report.backend} store {report.location}: schema version {report.version}")
    print(f"applied: {applied}")
    return 0
