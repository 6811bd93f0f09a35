"""`python -m app policies render [--out DIR]`: the APIM policy bundle from the configuration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.apim.render import DEFAULT_OUT, render_bundle
from app.apim.settings import ApimSettings
from app.config.model import Config
from app.errors import ConfigError


def register(sub: Any) -> None:
    group = sub.add_parser("policies", help="API Management policy bundle: render")
    cmds = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    render = cmds.add_parser(
        "render",
        help="render the APIM policies and their named-value list from [apim], "
        "[auth.certificate] and [auth.entra_token]",
    )
    render.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory, replaced as a whole (default: {DEFAULT_OUT})",
    )
    render.add_argument(
        "--config", help="TOML file (default: $CONNECTOR_CONFIG or instance/connector.toml)"
    )
    render.set_defaults(func=_render)


def _load(path: str | None) -> Config:
    from app.config import load_config

    return load_config(path)


def _render(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if not isinstance(config.apim, ApimSettings):
        raise ConfigError(
            f"{config.source}: [apim]: missing; the policy bundle is rendered "
            "from it (see connector.example.toml)"
        )
    for path in render_bundle(config.apim, config.auth, args.out):
        print(path)
    return 0
