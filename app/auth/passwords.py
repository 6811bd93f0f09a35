"""Salted slow password hashes for basic-auth credentials kept in the configuration.

Formats: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`` and
``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app.errors import ConfigError

_SCRYPT_MAXMEM = 1 << 27
DEFAULT_SCRYPT = (15, 8, 1)
DEFAULT_PBKDF2_ITERATIONS = 600_000


@dataclass(frozen=True)
class PasswordHash:
    algorithm: str
    params: tuple[int, ...]
    salt: bytes
    digest: bytes

    def derive(self, password: bytes) -> bytes:
        if self.algorithm == "scrypt":
            log_n, r, p = self.params
            return hashlib.scrypt(
                password,
                salt=self.salt,
                n=1 << log_n,
                r=r,
                p=p,
                maxmem=_SCRYPT_MAXMEM,
                dklen=len(self.digest),
            )
        return hashlib.pbkdf2_hmac(
            "sha256", password, self.salt, self.params[0], dklen=len(self.digest)
        )

    def verify(self, password: bytes) -> bool:
        return hmac.compare_digest(self.derive(password), self.digest)


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def parse_password_hash(encoded: str) -> PasswordHash:
    """Parse and sanity-check a stored hash; raise ConfigError saying what is expected."""
    parts = encoded.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            log_n, r, p = (int(x) for x in parts[1:4])
            if not (14 <= log_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
                raise ConfigError("scrypt parameters out of range (log2 n 14-20, r 1-32, p 1-16)")
            if 128 * r * (1 << log_n) > _SCRYPT_MAXMEM // 2:
                raise ConfigError("scrypt parameters need too much memory")
            h = PasswordHash("scrypt", (log_n, r, p), _b64(parts[4]), _b64(parts[5]))
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if iterations < 100_000:
                raise ConfigError(f"expected at least 100000 PBKDF2 iterations, got {iterations}")
            h = PasswordHash("pbkdf2_sha256", (iterations,), _b64(parts[2]), _b64(parts[3]))
        else:
            raise ConfigError(
                "expected scrypt$... or pbkdf2_sha256$... as made by "
                "`python -m app config hash-password`"
            )
    except ValueError as exc:  # int() and base64 failures
        raise ConfigError("malformed password hash (bad number or base64)") from exc
    if len(h.salt) < 16 or len(h.digest) < 32:
        raise ConfigError("expected a salt of at least 16 bytes and a hash of at least 32")
    return h


def hash_password(password: str, algorithm: str = "scrypt") -> str:
    salt = secrets.token_bytes(16)
    enc = base64.b64encode
    if algorithm == "scrypt":
        log_n, r, p = DEFAULT_SCRYPT
        h = PasswordHash("scrypt", DEFAULT_SCRYPT, salt, b"\0" * 32)
        digest = h.derive(password.encode("utf-8"))
        return f"scrypt${log_n}${r}${p}${enc(salt).decode()}${enc(digest).decode()}"
    if algorithm == "pbkdf2_sha256":
        h = PasswordHash("pbkdf2_sha256", (DEFAULT_PBKDF2_ITERATIONS,), salt, b"\0" * 32)
        digest = h.derive(password.encode("utf-8"))
        return (
            f"pbkdf2_sha256${DEFAULT_PBKDF2_ITERATIONS}${enc(salt).decode()}${enc(digest).decode()}"
        )
    raise ConfigError(f"expected algorithm scrypt or pbkdf2_sha256, got {algorithm!r}")
