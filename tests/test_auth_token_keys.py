"""Signing keys from the tenant: discovery, caching, rate-limited refresh, outages, real HTTP."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.auth.jwks import (
    MAX_AGE_SECONDS,
    MIN_REFRESH_SECONDS,
    RETRY_AFTER_FAILURE_SECONDS,
    SigningKeysUnavailable,
    http_get,
    parse_jwks,
)
from app.auth.token import EntraTokenAuth, metadata_url
from app.config.model import EntraTokenConfig
from app.errors import AuthenticationError
from tests import tokens

JWKS_URI = "https://tenant.example/discovery/v2.0/keys"
METADATA = metadata_url(tokens.TENANT)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTenant:
    """Serves OpenID metadata and a JWKS by URL; counts calls; can be taken down."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys) or [tokens.jwk()]
        self.issuer = tokens.ISSUER
        self.jwks_uri = JWKS_URI
        self.calls: list[str] = []
        self.down = False

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls.append(url)
        assert timeout <= 1.0
        if self.down:
            raise SigningKeysUnavailable(f"GET {url} failed: connection refused")
        if url == METADATA:
            return json.dumps({"issuer": self.issuer, "jwks_uri": self.jwks_uri}).encode()
        if url == JWKS_URI:
            return json.dumps({"keys": self.keys}).encode()
        raise SigningKeysUnavailable(f"GET {url} failed: 404")


def make(tenant: FakeTenant, clock: Clock, **config: Any) -> EntraTokenAuth:
    cfg = EntraTokenConfig(tenant_id=tokens.TENANT, audience=tokens.AUDIENCE, **config)
    return EntraTokenAuth(cfg, fetch=tenant, clock=clock)


def env(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Bearer " + token}


def test_discovers_keys_once_then_serves_from_cache() -> None:
    tenant, clock = FakeTenant(), Clock()
    auth = make(tenant, clock)
    for _ in range(5):
        assert auth.authenticate(env(tokens.token())) is not None
    assert tenant.calls == [METADATA, JWKS_URI]


def test_configured_jwks_url_skips_discovery() -> None:
    tenant, clock = FakeTenant(), Clock()
    auth = make(tenant, clock, jwks_url=JWKS_URI)
    assert auth.authenticate(env(tokens.token())) is not None
    assert tenant.calls == [JWKS_URI]


def test_rotated_key_is_fetched_on_unknown_kid() -> None:
    tenant, clock = FakeTenant(), Clock()
    auth = make(tenant, clock)
    auth.authenticate(env(tokens.token()))
    tenant.keys.append(tokens.jwk("rotated"))
    clock.now += MIN_REFRESH_SECONDS
    principal = auth.authenticate(env(tokens.token("rotated", kid="rotated")))
    assert principal is not None
    assert tenant.calls == [METADATA, JWKS_URI, JWKS_URI]  # jwks_uri remembered


def test_unknown_kids_refresh_at_most_once_per_interval() -> None:
    tenant, clock = FakeTenant(), Clock()
    auth = make(tenant, clock)
    auth.authenticate(env(tokens.token()))
    for i in range(20):  # an attacker sprays random kids
        with pytest.raises(AuthenticationError, match="unknown key id"):
            auth.authenticate(env(tokens.token("other", kid=f"random-{i}")))
    assert tenant.calls == [METADATA, JWKS_URI]
    clock.now += MIN_REFRESH_SECONDS
    with pytest.raises(AuthenticationError, match="unknown key id 'random-x'"):
        auth.authenticate(env(tokens.token("other", kid="random-x")))
    assert tenant.calls == [METADATA, JWKS_URI, JWKS_URI]


def test_tenant_down_fails_closed_and_retries_rarely() -> None:
    tenant, clock = FakeTenant(), Clock()
    tenant.down = True
    auth = make(tenant, clock)
    for _ in range(3):
        with pytest.raises(AuthenticationError, match=r"signing keys unavailable.*refused"):
            auth.authenticate(env(tokens.token()))
    assert len(tenant.calls) == 1
    ok, details = auth.readiness()
    assert not ok and "refused" in details["error"]
    clock.now += RETRY_AFTER_FAILURE_SECONDS
    tenant.down = False
    assert auth.authenticate(env(tokens.token())) is not None
    assert auth.readiness() == (True, {"keys": 1, "source": JWKS_URI})


def test_stale_keys_refresh_daily_and_survive_an_outage() -> None:
    tenant, clock = FakeTenant(), Clock()
    auth = make(tenant, clock)
    auth.authenticate(env(tokens.token()))
    clock.now += MAX_AGE_SECONDS + 1
    tenant.down = True
    # The refresh fails, but the key already held still verifies: sign-ups go on.
    assert auth.authenticate(env(tokens.token())) is not None
    assert auth.authenticate(env(tokens.token())) is not None
    assert tenant.calls == [METADATA, JWKS_URI, JWKS_URI]


def test_removed_key_stops_working_after_daily_refresh() -> None:
    tenant, clock = FakeTenant(tokens.jwk(), tokens.jwk("next")), Clock()
    auth = make(tenant, clock)
    auth.authenticate(env(tokens.token()))
    tenant.keys = [tokens.jwk("next")]
    clock.now += MAX_AGE_SECONDS + 1
    with pytest.raises(AuthenticationError, match="unknown key id"):
        auth.authenticate(env(tokens.token()))


def test_metadata_issuer_mismatch_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tenant, clock = FakeTenant(), Clock()
    tenant.issuer = "https://login.microsoftonline.com/other/v2.0"
    make(tenant, clock).keys.get(tokens.KID)
    [record] = [r for r in caplog.records if r.getMessage() == "entra_token.issuer_mismatch"]
    assert record.fields == {  # type: ignore[attr-defined]
        "expected": tokens.ISSUER,
        "metadata_issuer": tenant.issuer,
    }


@pytest.mark.parametrize(
    ("jwks_uri", "reason"),
    [("http://tenant.example/keys", "expected an https jwks_uri"), (None, "jwks_uri")],
)
def test_bad_metadata_is_refused(jwks_uri: str | None, reason: str) -> None:
    tenant, clock = FakeTenant(), Clock()
    tenant.jwks_uri = jwks_uri  # type: ignore[assignment]
    with pytest.raises(AuthenticationError, match=reason):
        make(tenant, clock).authenticate(env(tokens.token()))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"keys": []}', "did not contain any keys"),
        (json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}).encode(), "RSA"),
        (json.dumps({"keys": [{**tokens.jwk(), "kid": None}]}).encode(), "RSA signing keys"),
        (json.dumps({"keys": [{**tokens.jwk(), "use": "enc"}]}).encode(), "RSA signing keys"),
        (json.dumps({"keys": [{**tokens.jwk(), "kid": ["x"]}]}).encode(), "RSA signing keys"),
        (json.dumps({"keys": [{**tokens.jwk(), "alg": "RS512"}]}).encode(), "RSA signing keys"),
        (json.dumps({"keys": [{**tokens.jwk(), "alg": "HS256"}]}).encode(), "usable keys"),
        (b'{"keys": "abc"}', "Invalid JWK Set"),
    ],
)
def test_parse_jwks_rejects(document: bytes, reason: str) -> None:
    with pytest.raises(SigningKeysUnavailable, match=reason):
        parse_jwks(document, "test")


def test_parse_jwks_keeps_only_rsa_signing_keys() -> None:
    oct_key = {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}
    keys = parse_jwks(json.dumps({"keys": [oct_key, tokens.jwk()]}).encode(), "test")
    assert list(keys) == [tokens.KID]


# Real HTTP on loopback: the timeout holds and documents are size-capped.


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/not-http":
            self.wfile.write(b"SSH-2.0-OpenSSH\r\n\r\n")
            return
        if self.path == "/slow":
            time.sleep(1.5)
        body = b"x" * (2 << 20) if self.path == "/huge" else json.dumps(tokens.jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/truncated":  # announce the whole document, hang up half-way
            body = body[: len(body) // 2]
        with contextlib.suppress(OSError):  # the client gave up (the timeout test)
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_real_fetch_over_loopback(server: str) -> None:
    auth = EntraTokenAuth(
        EntraTokenConfig(tenant_id=tokens.TENANT, audience=tokens.AUDIENCE, jwks_url=server + "/k")
    )
    assert auth.authenticate(env(tokens.token())) is not None


def test_slow_endpoint_times_out_quickly(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(SigningKeysUnavailable, match="failed"):
        http_get(server + "/slow", 0.3)
    assert time.monotonic() - started < 1.2


def test_huge_document_is_refused(server: str) -> None:
    with pytest.raises(SigningKeysUnavailable, match="larger than"):
        http_get(server + "/huge", 2.0)


@pytest.mark.parametrize(("path", "reason"), [("/truncated", "not JSON"), ("/not-http", "failed")])
def test_broken_answers_fail_closed(server: str, path: str, reason: str) -> None:
    cfg = EntraTokenConfig(
        tenant_id=tokens.TENANT, audience=tokens.AUDIENCE, jwks_url=server + path
    )
    with pytest.raises(AuthenticationError, match=f"signing keys unavailable.*{reason}"):
        EntraTokenAuth(cfg).authenticate(env(tokens.token()))


@pytest.mark.parametrize("url", ["http://tenant.example/keys", "file:///etc/passwd", "ftp://x/y"])
def test_only_https_or_loopback_is_fetched(url: str) -> None:
    with pytest.raises(SigningKeysUnavailable, match="expected an https:// URL"):
        http_get(url, 0.5)


def test_file_keys_never_fetch(tmp_path: Path) -> None:
    tenant = FakeTenant()
    path = tokens.write_jwks(tmp_path / "keys.json")
    auth = make(tenant, Clock(), jwks_file=str(path))
    assert auth.authenticate(env(tokens.token())) is not None
    with pytest.raises(AuthenticationError, match="not in the configured file"):
        auth.authenticate(env(tokens.token("other", kid="other")))
    assert tenant.calls == []
    assert auth.readiness() == (True, {"keys": 1, "source": "file"})
