"""The tenant's token-signing keys: a local JWKS file, or fetched and cached by key id.

Checklist:
 (1) only RS256 signature keys with a kid are kept (an `oct` key would become an HMAC secret);
 (2) no network call on the hot path while the kid is known and the set is under a day old;
 (3) an unknown kid (or a day-old set) refreshes at most once per interval: 60 s after a
     success, 10 s after a failure; one thread fetches, with a short timeout per request;
 (4) a failed refresh keeps the keys already held (a tenant outage does not stop sign-ups
     that use known keys); documents are size-capped; only https (or loopback http) URLs.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from app.errors import AuthenticationError
from app.logs import event

Fetch = Callable[[str, float], bytes]

FETCH_TIMEOUT = 1.0
MIN_REFRESH_SECONDS = 60.0
RETRY_AFTER_FAILURE_SECONDS = 10.0
MAX_AGE_SECONDS = 24 * 3600.0
_MAX_DOCUMENT = 1 << 20
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class SigningKeysUnavailable(AuthenticationError):
    """The key set cannot be read or fetched; the message says which document and why."""


def check_url(url: str) -> str:
    """An https URL, or http to a loopback host (tests, local mirrors); else an error message."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return ""
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return ""
    return f"expected an https:// URL, got {url[:100]!r}"


def http_get(url: str, timeout: float) -> bytes:
    """GET a small JSON document with a timeout; SigningKeysUnavailable on any failure."""
    problem = check_url(url)
    if problem:
        raise SigningKeysUnavailable(problem)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read(_MAX_DOCUMENT + 1)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise SigningKeysUnavailable(f"GET {url} failed: {str(exc)[:120]}") from exc
    if len(data) > _MAX_DOCUMENT:
        raise SigningKeysUnavailable(f"GET {url}: document larger than {_MAX_DOCUMENT} bytes")
    return data


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SigningKeysUnavailable(f"{what} is not JSON: {str(exc)[:80]}") from exc
    if not isinstance(value, dict):
        raise SigningKeysUnavailable(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_jwks(data: bytes, what: str) -> dict[str, jwt.PyJWK]:
    """RSA signature keys by kid from a JWKS document."""
    document = _json_object(data, what)
    try:
        key_set = jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise SigningKeysUnavailable(f"{what}: {exc}") from exc
    keys = {
        k.key_id: k
        for k in key_set
        if isinstance(k.key_id, str)
        and k.key_id
        and k.key_type == "RSA"
        and k.algorithm_name == "RS256"
        and k.public_key_use in (None, "sig")  # (1)
    }
    if not keys:
        raise SigningKeysUnavailable(f"{what}: expected RSA signing keys with a kid, found none")
    return keys


def read_jwks_file(path: str) -> dict[str, jwt.PyJWK]:
    """The key set of a local JWKS file (configuration check and offline use)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeysUnavailable(f"cannot read {path}: {exc.strerror}") from exc
    return parse_jwks(data, path)


class SigningKeys:
    """Keys by kid; thread-safe; refreshes lazily and rarely."""

    def __init__(
        self,
        *,
        file: str | None,
        url: str | None,
        discover: bool,
        expected_issuer: str,
        fetch: Fetch,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self._static = file is not None
        self._keys: dict[str, jwt.PyJWK] = read_jwks_file(file) if file is not None else {}
        # With discovery, `url` is the OpenID metadata; its jwks_uri is learnt on first fetch.
        self._metadata_url = url if discover else None
        self._jwks_url = None if discover else url
        self._expected_issuer = expected_issuer
        self._fetch = fetch
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._error: str | None = None

    def get(self, kid: str) -> jwt.PyJWK:
        """The key for kid, refreshing when it is unknown or the set is stale (rate-limited)."""
        key = self._keys.get(kid)
        if self._static:
            if key is None:
                raise AuthenticationError(f"unknown key id {kid!r} (not in the configured file)")
            return key
        if key is not None and not self._stale():  # (2)
            return key
        self._refresh()
        key = self._keys.get(kid)
        if key is None:
            why = f"; signing keys unavailable: {self._error}" if self._error else ""
            raise AuthenticationError(f"unknown key id {kid!r}{why}")
        return key

    def status(self) -> tuple[bool, dict[str, Any]]:
        details: dict[str, Any] = {"keys": len(self._keys)}
        if self._static:
            details["source"] = "file"
            return True, details
        details["source"] = self._jwks_url or self._metadata_url
        if self._error:
            details["error"] = self._error
        # Not fetched yet is fine: the first token fetches; a failure with no keys is not.
        return bool(self._keys) or self._attempted_at is None, details

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > MAX_AGE_SECONDS

    def _may_fetch(self) -> bool:
        if self._attempted_at is None:
            return True
        wait = RETRY_AFTER_FAILURE_SECONDS if self._error else MIN_REFRESH_SECONDS
        return self._clock() - self._attempted_at >= wait  # (3)

    def _refresh(self) -> None:
        if not self._may_fetch():
            return
        with self._lock:
            if not self._may_fetch():  # another thread just fetched
                return
            self._attempted_at = self._clock()
            try:
                keys = self._download()
            except SigningKeysUnavailable as exc:
                self._error = str(exc)  # (4) keep the keys already held
                event(logging.WARNING, "entra_token.keys_unavailable", error=self._error)
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._error = None
            event(logging.INFO, "entra_token.keys_refreshed", keys=sorted(keys))

    def _download(self) -> dict[str, jwt.PyJWK]:
        url = self._jwks_url
        if url is None:
            if self._metadata_url is None:
                raise SigningKeysUnavailable("no tenant_id, jwks_url or jwks_file configured")
            what = f"OpenID metadata {self._metadata_url}"
            metadata = _json_object(self._fetch(self._metadata_url, self._timeout), what)
            uri = metadata.get("jwks_uri")
            if not isinstance(uri, str) or check_url(uri):
                raise SigningKeysUnavailable(f"{what}: expected an https jwks_uri, got {uri!r}")
            issuer = metadata.get("issuer")
            if issuer != self._expected_issuer:
                # Tokens are checked against the configured issuer; say early why they fail.
                event(
                    logging.WARNING,
                    "entra_token.issuer_mismatch",
                    expected=self._expected_issuer,
                    metadata_issuer=str(issuer)[:200],
                )
            self._jwks_url = url = uri
        return parse_jwks(self._fetch(url, self._timeout), f"JWKS {url}")
