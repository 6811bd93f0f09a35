"""TLS terminated by gunicorn (SPEC §2): settings from CONNECTOR_TLS_*, one prepared SSL context.

Checklist:
 (1) TLS 1.2 at least, no compression, no renegotiation, one session ticket; OpenSSL's
     default suites otherwise;
 (2) CONNECTOR_TLS_CLIENT_CERT=required|optional makes the handshake verify client
     certificates against CONNECTOR_TLS_CLIENT_CA (a self-signed Entra certificate must be in
     that file itself); the app then applies its own policies to the verified peer certificate;
 (3) the context is built once in the master, on start and on every reload (SIGHUP), and
     inherited by the workers it forks: no per-connection rebuild and key re-read (gunicorn's
     default), and one set of session-ticket keys for all workers;
 (4) a missing or broken certificate, key or CA file stops the start, naming the variable;
 (5) on reload a broken one is refused in the log and the last good context keeps serving.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ConfigError

_CLIENT_CERT = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
SettingsKey = tuple[object, ...]


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


def harden(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """(1) on a context gunicorn's factory made."""
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    # (2) A certificate listed in CONNECTOR_TLS_CLIENT_CA is trusted as itself. Without this,
    # OpenSSL takes the FIRST self-signed certificate with the presented one's subject as its
    # issuer and refuses the other: Entra's old and new certificates (same CN) could not be
    # listed side by side during a rollover. Python 3.13 sets it by default.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    # One TLS 1.3 session ticket, not OpenSSL's two: each carries the client certificate and
    # costs ~0.15 ms to issue (~8% of a full mutual handshake here); one per connection is all
    # a resuming client uses, and every worker can decrypt it (one context, see (3)).
    ctx.num_tickets = 1
    return ctx


@dataclass(frozen=True)
class _Prepared:
    key: SettingsKey
    context: ssl.SSLContext


class _State:
    prepared: _Prepared | None = None
    building = False


_state = _State()


def settings_key(cfg: Any) -> SettingsKey:
    """What a context is built from (file names and modes, not file contents)."""
    return (cfg.certfile, cfg.keyfile, cfg.ca_certs, cfg.cert_reqs, cfg.ciphers)


def ssl_context(
    config: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """gunicorn's hook, called for every accepted connection: the prepared context (3).

    Without one (the hooks did not run, or command-line flags changed the files), each
    worker builds its own once and keeps it.
    """
    key = settings_key(config)
    prepared = _state.prepared
    if prepared is not None and prepared.key == key and not _state.building:
        return prepared.context
    ctx = harden(default_ssl_context_factory())
    if not _state.building:
        _state.prepared = _Prepared(key, ctx)
    return ctx


def build_context(cfg: Any) -> ssl.SSLContext:
    """A fresh context from gunicorn's settings; ConfigError names the variable at fault (4)."""
    from gunicorn import sock

    files = (
        ("CONNECTOR_TLS_CERT", cfg.certfile),
        ("CONNECTOR_TLS_KEY", cfg.keyfile),
        ("CONNECTOR_TLS_CLIENT_CA", cfg.ca_certs),
    )
    for variable, path in files:
        if path:
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from exc
    if cfg.ca_certs:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_verify_locations(cfg.ca_certs)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"CONNECTOR_TLS_CLIENT_CA: expected a PEM bundle of certificates in "
                f"{cfg.ca_certs}, got: {exc}"
            ) from exc
    _state.building = True
    try:
        return harden(sock.ssl_context(cfg))  # gunicorn's factory (and the hook above)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY: expected a PEM certificate ({cfg.certfile}) "
            f"and its private key ({cfg.keyfile}), got: {exc}"
        ) from exc
    finally:
        _state.building = False


def prepare_tls(server: Any, *, starting: bool) -> None:
    """Build the context in the master before workers fork (3); (4) on start, (5) on reload."""
    cfg = server.cfg
    if not cfg.is_ssl:
        _state.prepared = None
        return
    try:
        ctx = build_context(cfg)
    except ConfigError as exc:
        if starting:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)
        previous = _state.prepared
        if previous is None:
            server.log.error(f"TLS reload refused: {exc}; no TLS context to keep serving")
            return
        # Re-keyed to the new settings, so new workers take it rather than the broken files.
        _state.prepared = _Prepared(settings_key(cfg), previous.context)
        server.log.error(f"TLS reload refused: {exc}; the previous certificate keeps serving")
        return
    _state.prepared = _Prepared(settings_key(cfg), ctx)
    modes = {v: k for k, v in _CLIENT_CERT.items()}
    server.log.info(
        f"TLS context prepared from {cfg.certfile} "
        f"(client certificates: {modes.get(cfg.cert_reqs, cfg.cert_reqs)})"
    )
