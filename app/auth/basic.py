"""HTTP basic authentication (RFC 7617) against several configured credentials.

Checklist:
 (1) only an `Authorization` header whose scheme is "basic" in any case is ours;
 (2) bounded size, strict base64, strict UTF-8, split at the FIRST colon, no empty part;
 (3) compare every configured user name and password in constant time, whatever matches,
     so timing does not reveal which user names exist;
 (4) a slow hash is verified at most once per worker per credential (keyed-hash cache);
     a user name that matches nothing still costs one slow verification (dummy hash);
 (5) never log or keep the presented password; failures say why only in the log;
 (6) a header that verified before is recognised by its keyed hash (BLAKE2b under a
     per-process random key): only successes are remembered, a hit needs the exact header,
     and the cache keeps digests, not headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app.auth.passwords import PasswordHash, parse_password_hash
from app.auth.principal import Environ, Principal
from app.config.model import BasicAuthConfig
from app.errors import AuthenticationError

_MAX_HEADER = 4096
_CACHE_LIMIT = 256


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _keyed(key: bytes, value: bytes) -> bytes:
    # BLAKE2 in keyed mode is a MAC by design, and three times cheaper than HMAC here.
    return hashlib.blake2b(value, key=key, digest_size=32).digest()


@dataclass(frozen=True)
class _Entry:
    username: str
    principal: Principal
    user_digest: bytes
    password_digest: bytes | None  # for passwords from the environment
    password_hash: PasswordHash | None


def parse_basic_header(header: str | None) -> tuple[str, str] | None:
    """(user, password) from a Basic header; None if not Basic; AuthenticationError if bad."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":  # (1)
        return None
    if len(header) > _MAX_HEADER:  # (2)
        raise AuthenticationError("basic credential too long")
    token = token.strip()
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise AuthenticationError("basic credential is not base64 of UTF-8 text") from exc
    user, colon, password = decoded.partition(":")
    if not colon:
        raise AuthenticationError("basic credential has no colon")
    if not user or not password:
        raise AuthenticationError("basic credential has an empty user name or password")
    return user, password


class BasicAuth:
    name = "basic"

    def __init__(self, config: BasicAuthConfig) -> None:
        self.realm = config.realm
        entries = []
        for c in config.credentials:
            entries.append(
                _Entry(
                    c.username,
                    Principal("basic", c.username),
                    _digest(c.username.encode("utf-8")),
                    _digest(c.password.reveal().encode("utf-8")) if c.password else None,
                    parse_password_hash(c.password_hash) if c.password_hash else None,
                )
            )
        self._entries = tuple(entries)
        hashed = [e.password_hash for e in entries if e.password_hash is not None]
        # A dummy with the same cost as a real one, for user names that match nothing. (4)
        self._dummy = hashed[0] if hashed else None
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[bytes, Principal] = {}
        self._seen: dict[bytes, Principal] = {}

    @property
    def challenge(self) -> str:
        return f'Basic realm="{self.realm}", charset="UTF-8"'

    def authenticate(self, environ: Environ) -> Principal | None:
        header = environ.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        seen_key = _keyed(self._cache_key, header.encode("utf-8", "surrogatepass"))
        seen = self._seen.get(seen_key)
        if seen is not None:  # (6)
            return seen
        parsed = parse_basic_header(header)
        if parsed is None:
            return None
        user, password = parsed
        user_b, password_b = user.encode("utf-8"), password.encode("utf-8")
        user_d, password_d = _digest(user_b), _digest(password_b)
        matched: Principal | None = None
        hashed_entry: _Entry | None = None
        for entry in self._entries:  # (3)
            user_ok = hmac.compare_digest(user_d, entry.user_digest)
            if entry.password_digest is not None:
                pw_ok = hmac.compare_digest(password_d, entry.password_digest)
                if user_ok & pw_ok:
                    matched = entry.principal
            elif user_ok:
                hashed_entry = entry
        if matched is None and self._dummy is not None:
            matched = self._check_hashed(user_b, password_b, hashed_entry)
        if matched is None:
            raise AuthenticationError("basic credential does not match any configured one")  # (5)
        if len(self._seen) >= _CACHE_LIMIT:
            self._seen.clear()
        self._seen[seen_key] = matched
        return matched

    def _check_hashed(self, user: bytes, password: bytes, entry: _Entry | None) -> Principal | None:
        key = _keyed(self._cache_key, user + b"\0" + password)
        cached = self._verified.get(key)
        if cached is not None:  # (4)
            return cached
        target = entry.password_hash if entry is not None else self._dummy
        ok = target is not None and target.verify(password)
        if entry is None or not ok:
            return None
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[key] = entry.principal
        return entry.principal
