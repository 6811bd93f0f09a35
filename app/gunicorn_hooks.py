"""gunicorn server hooks: validate configuration in the master, TLS from the environment."""

from __future__ import annotations

import logging
import sys
from typing import Any

from app import logs
from app.errors import ConfigError
from app.gunicorn_reload import current, take_snapshot
from app.gunicorn_tls import prepare_tls, ssl_context, tls_settings

__all__ = ["on_reload", "on_starting", "ssl_context", "tls_settings"]


def on_starting(server: Any) -> None:
    """Refuse to start on a broken configuration, before any worker boots; keep a copy of it."""
    logs.configure()
    try:
        snapshot = take_snapshot()  # workers boot from this copy (app/gunicorn_reload.py)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    logs.event(logging.INFO, "config.loaded", config=str(snapshot.origin), digest=snapshot.sha256)
    prepare_tls(server, starting=True)  # TLS files checked, context built once for all workers


def on_reload(server: Any) -> None:
    """SIGHUP, before new workers boot: take the operator's file only if it is valid."""
    try:
        snapshot = take_snapshot()
    except ConfigError as exc:
        serving = current()
        logs.event(
            logging.ERROR,
            "config.reload_refused",
            error=str(exc),
            serving=serving.sha256 if serving else None,
        )
    else:
        logs.event(
            logging.INFO, "config.reloaded", config=str(snapshot.origin), digest=snapshot.sha256
        )
    prepare_tls(server, starting=False)  # new certificate files; a broken one keeps the old
