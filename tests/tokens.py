"""Test signing keys, JWKS files and Entra-shaped bearer tokens (helpers, no tests here)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "3b2f5c1e-8a4d-4e6f-9b0a-1c2d3e4f5a6b"
AUDIENCE = "7d1c6b5a-2e3f-4a9b-8c7d-6e5f4a3b2c1d"
ISSUER = f"https://{TENANT}.ciamlogin.com/{TENANT}/v2.0"
ENTRA_APP = "99045fe1-7639-4a75-9d4a-577b6ca3810f"
KID = "test-key-1"


@functools.cache
def private_key(name: str = KID, bits: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key per name for the whole test session (generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def jwk(name: str = KID, bits: int = 2048, kid: str | None = None) -> dict[str, Any]:
    public = private_key(name, bits).public_key()
    data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    data.update({"kid": kid or name, "use": "sig"})
    return data


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys) or [jwk()]}


def write_jwks(path: Path, *keys: dict[str, Any]) -> Path:
    path.write_text(json.dumps(jwks(*keys)), encoding="utf-8")
    return path


def claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a v2 access token Entra sends to an authentication extension."""
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "azp": ENTRA_APP,
        "azpacr": "1",
        "idtyp": "app",
        "oid": "c0ffee00-0000-4000-8000-000000000001",
        "sub": "c0ffee00-0000-4000-8000-000000000001",
        "tid": TENANT,
        "ver": "2.0",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(
    key_name: str = KID,
    *,
    kid: str | None = KID,
    algorithm: str = "RS256",
    bits: int = 2048,
    **overrides: Any,
) -> str:
    """A token signed by the named test key; overrides set (or with None remove) claims."""
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(
        claims(**overrides), private_key(key_name, bits), algorithm=algorithm, headers=headers
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-made compact JWS (for `alg: none` and other things pyjwt will not sign)."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    return f"{head}.{body}.{_b64(signature)}"


def hs256_with_public_key(name: str = KID) -> str:
    """The classic confusion attack: HMAC "signed" with the RSA public key's PEM as secret."""
    pem = (
        private_key(name)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": name}).encode())
    body = _b64(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(mac)}"


def tampered(original: str, **changes: Any) -> str:
    """The same signature over a changed payload."""
    head, body, signature = original.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    return f"{head}.{_b64(json.dumps(payload).encode())}.{signature}"


def bearer(value: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {value if value is not None else token()}"}


def config_toml(jwks_path: Path, extra: str = "") -> str:
    """A production configuration that admits only Entra tokens (plus `extra` sections)."""
    return f"""
environment = "production"
extensions_app_id = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
[auth]
methods = ["entra_token"]
[auth.entra_token]
tenant_id = "{TENANT}"
audience = "{AUDIENCE}"
jwks_file = "{jwks_path}"
{extra}
"""
