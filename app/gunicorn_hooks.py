"""gunicorn server hooks: validate configuration in the master, TLS from the environment."""

from __future__ import annotations

import sys
from typing import Any

from app.config import load_config
from app.errors import ConfigError
from app.gunicorn_tls import prepare_tls, ssl_context, tls_settings

__all__ = ["on_reload", "on_starting", "ssl_context", "tls_settings"]


def on_starting(server: Any) -> None:
    """Refuse to start on a broken configuration, before any worker boots."""
    try:
        load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    prepare_tls(server, starting=True)  # TLS files checked, context built once for all workers


def on_reload(server: Any) -> None:
    """Validate before new workers load the file (the full policy lands with the reload work)."""
    try:
        load_config()
    except ConfigError as exc:
        server.log.error(f"configuration reload refused: {exc}")
    prepare_tls(server, starting=False)  # new certificate files; a broken one keeps the old
