"""gunicorn server hooks: validate configuration in the master, TLS from the environment."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable, Mapping
from typing import Any

from app.config import load_config
from app.errors import ConfigError

_CLIENT_CERT = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def tls_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn TLS settings from CONNECTOR_TLS_*; empty when TLS is not terminated here."""
    cert = environ.get("CONNECTOR_TLS_CERT")
    if not cert:
        return {}
    key = environ.get("CONNECTOR_TLS_KEY")
    if not key:
        sys.exit("error: CONNECTOR_TLS_CERT is set but CONNECTOR_TLS_KEY is not")
    mode = environ.get("CONNECTOR_TLS_CLIENT_CERT", "none").lower()
    if mode not in _CLIENT_CERT:
        sys.exit(
            f"error: CONNECTOR_TLS_CLIENT_CERT: expected required, optional or none, got {mode!r}"
        )
    ca = environ.get("CONNECTOR_TLS_CLIENT_CA")
    if mode != "none" and not ca:
        sys.exit(
            "error: CONNECTOR_TLS_CLIENT_CERT needs CONNECTOR_TLS_CLIENT_CA (the PEM "
            "bundle client certificates are accepted from)"
        )
    settings: dict[str, Any] = {"certfile": cert, "keyfile": key, "cert_reqs": _CLIENT_CERT[mode]}
    if ca:
        settings["ca_certs"] = ca
    return settings


_cached: ssl.SSLContext | None = None


def ssl_context(
    config: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """One context per worker (gunicorn builds one per connection), TLS 1.2 minimum."""
    global _cached  # noqa: PLW0603 - a per-process cache is the point
    if _cached is None:
        ctx = default_ssl_context_factory()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        _cached = ctx
    return _cached


def on_starting(server: Any) -> None:
    """Refuse to start on a broken configuration, before any worker boots."""
    try:
        load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def on_reload(server: Any) -> None:
    """Validate before new workers load the file (the full policy lands with the reload work)."""
    try:
        load_config()
    except ConfigError as exc:
        server.log.error(f"configuration reload refused: {exc}")
