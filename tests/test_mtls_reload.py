"""A certificate rollover through graceful reloads (SIGHUP) of the real gunicorn.

The documented procedure: add the new client certificate to CONNECTOR_TLS_CLIENT_CA and the
pins, reload; Entra switches to it; remove the old one, reload. The server certificate is
rotated along the way, and a broken key at a reload leaves the last good one serving.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import pki
from tests.support import Server, gunicorn
from tests.test_mtls_gunicorn import handshake_refused, request

pytestmark = pytest.mark.e2e

CONFIG = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
thumbprints = [{pins}]
"""


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write beside, then rename: a reader sees the old file or the new one, never half."""
    temp = path.with_suffix(".tmp")
    temp.write_bytes(data)
    temp.chmod(mode)
    os.replace(temp, path)


def served_fingerprint(server: Server) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    port = int(server.url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True) or b""
    return hashlib.sha256(der).hexdigest().upper()


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, ssl.SSLError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def client(server_pem: Path, files: pki.PemFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the server cert rotates here
    ctx.load_cert_chain(files.cert, files.key)
    return ctx


def test_rollover_through_graceful_reloads(tmp_path: Path) -> None:
    d = tmp_path
    server_a, server_b = pki.server_cert(), pki.server_cert(key_type="rsa2048")
    old = pki.leaf("CN=api.contoso", san=None, eku="both")
    new = pki.leaf("CN=api.contoso", san=None, eku="both")
    old_files, new_files = pki.write_files(d, "old", old), pki.write_files(d, "new", new)
    cert, key, client_ca = d / "server.pem", d / "server.key", d / "client-ca.pem"
    replace_file(cert, server_a.cert_pem, 0o644)
    replace_file(key, server_a.key_pem)
    pki.write_pem(client_ca, old.cert)
    config = d / "connector.toml"
    config.write_text(CONFIG.format(pins=f'"{old.sha256}"'))
    env = {
        "CONNECTOR_TLS_CERT": str(cert),
        "CONNECTOR_TLS_KEY": str(key),
        "CONNECTOR_TLS_CLIENT_CA": str(client_ca),
        "CONNECTOR_TLS_CLIENT_CERT": "required",
    }
    old_ctx, new_ctx = client(cert, old_files), client(cert, new_files)
    with gunicorn("", env=env, scheme="https", ssl_context=old_ctx, config_path=config) as server:
        assert served_fingerprint(server) == server_a.sha256
        assert request(server, old_ctx)[0] == 200
        handshake_refused(server, new_ctx, "certificate verify failed")

        # 1. Both certificates trusted and pinned; a new server certificate (RSA this time).
        pki.write_pem(client_ca, old.cert, new.cert)
        config.write_text(CONFIG.format(pins=f'"{old.sha256}", "{new.sha1}"'))
        replace_file(cert, server_b.cert_pem, 0o644)
        replace_file(key, server_b.key_pem)
        server.proc.send_signal(signal.SIGHUP)
        eventually(lambda: served_fingerprint(server) == server_b.sha256, "the new server cert")
        eventually(lambda: request(server, new_ctx)[0] == 200, "the new client certificate")
        assert request(server, old_ctx)[0] == 200

        # 2. A broken key at a reload: refused, and the last good context keeps serving.
        replace_file(key, server_a.key_pem)  # does not match server_b's certificate
        booted = server.log().count("Booting worker")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("TLS reload refused: CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY")
        eventually(lambda: server.log().count("Booting worker") > booted, "a new worker")
        assert served_fingerprint(server) == server_b.sha256
        assert request(server, new_ctx)[0] == 200

        # 3. Entra uses the new certificate now: the old one is removed.
        replace_file(key, server_b.key_pem)
        pki.write_pem(client_ca, new.cert)
        config.write_text(CONFIG.format(pins=f'"{new.sha1}"'))
        server.proc.send_signal(signal.SIGHUP)

        def old_refused() -> bool:
            try:
                request(server, old_ctx)
            except (ssl.SSLError, ConnectionError):
                return True
            return False

        eventually(old_refused, "the old client certificate to be refused")
        assert request(server, new_ctx)[0] == 200
