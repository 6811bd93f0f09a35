"""Bearer tokens Entra sends to a custom authentication extension (REFERENCE §3).

Checklist:
 (1) only `Authorization: Bearer <token>` is ours; bounded size; the token is never logged;
 (2) the header's alg must be RS256: `none`, HMAC and everything else are refused before
     any key is touched (an HMAC "signed" with the public key must not verify);
 (3) the key comes from the tenant's key set by kid: a local file, or fetched from the
     tenant (OpenID metadata -> jwks_uri) and cached; an unknown kid refreshes at most once
     per interval with a short timeout, so random kids or a tenant endpoint that is down
     cannot stall every request (SigningKeys);
 (4) pyjwt verifies the signature (RS256 only, RSA >= 2048 bits), exp/nbf/iat with a small
     leeway, aud and iss; exp, iat, aud and iss are required;
 (5) azp (v2 tokens) and/or appid (v1) must name Entra's authentication events service,
     and tid, when present, the configured tenant;
 (6) the reason travels in AuthenticationError to the log; the caller sees a bare 401.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jwt

from app.auth.jwks import FETCH_TIMEOUT, Fetch, SigningKeys, http_get
from app.auth.principal import Environ, Principal
from app.errors import AuthenticationError

if TYPE_CHECKING:
    from app.config.model import EntraTokenConfig

ALGORITHMS = ("RS256",)
_MAX_HEADER = 8192
_KID = re.compile(r"^[A-Za-z0-9._~+/=-]{1,200}$")
_REQUIRED = ["exp", "iat", "aud", "iss"]


def default_issuer(tenant_id: str) -> str:
    """The issuer of an external (CIAM) tenant's v2.0 tokens."""
    tid = tenant_id.lower()
    return f"https://{tid}.ciamlogin.com/{tid}/v2.0"


def metadata_url(tenant_id: str) -> str:
    """Where the external tenant publishes its OpenID metadata (and so its jwks_uri)."""
    return default_issuer(tenant_id) + "/.well-known/openid-configuration"


def bearer_token(header: str | None) -> str | None:
    """The token of a Bearer header; None if not Bearer; AuthenticationError if unusable."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":  # (1)
        return None
    if len(header) > _MAX_HEADER:
        raise AuthenticationError(f"bearer token too long: {len(header)} > {_MAX_HEADER} bytes")
    token = token.strip()
    if not token:
        raise AuthenticationError("bearer token is empty")
    return token


def _short(value: object) -> str:
    return repr(value)[:120]


class EntraTokenAuth:
    name = "entra_token"

    def __init__(
        self,
        config: EntraTokenConfig,
        *,
        fetch: Fetch = http_get,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = FETCH_TIMEOUT,
    ) -> None:
        self.issuer = config.issuer or default_issuer(config.tenant_id)
        self.audience = config.audience
        self.tenant_id = config.tenant_id.lower()
        self.allowed_clients = frozenset(c.lower() for c in config.allowed_client_ids)
        self.leeway = config.leeway_seconds
        source = config.jwks_url or (metadata_url(config.tenant_id) if config.tenant_id else "")
        self.keys = SigningKeys(
            file=config.jwks_file or None,
            url=source or None,
            discover=not config.jwks_url,
            expected_issuer=self.issuer,
            fetch=fetch,
            clock=clock,
            timeout=timeout,
        )

    def authenticate(self, environ: Environ) -> Principal | None:
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        header = self._header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:  # (2)
            raise AuthenticationError(f"algorithm {_short(alg)} not allowed: expected RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise AuthenticationError(f"expected a key id (kid) in the header, got {_short(kid)}")
        key = self.keys.get(kid)  # (3)
        claims = self._decode(token, key, kid)  # (4)
        client = self._check_client(claims)  # (5)
        return Principal("entra_token", client, extra=(("kid", kid),))

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether signing keys are at hand (no network call: for /readyz)."""
        return self.keys.status()

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"malformed token: {str(exc)[:80]}") from exc
        return header

    def _decode(self, token: str, key: jwt.PyJWK, kid: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED, "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError(f"token expired (leeway {self.leeway} s)") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthenticationError(f"token not yet valid: {exc}") from exc
        except jwt.InvalidAudienceError as exc:
            got = _unverified(token).get("aud")
            raise AuthenticationError(
                f"wrong audience: expected {self.audience!r}, got {_short(got)}"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            got = _unverified(token).get("iss")
            raise AuthenticationError(
                f"wrong issuer: expected {self.issuer!r}, got {_short(got)}"
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"token lacks the required claim {exc.claim!r}") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthenticationError(f"signature does not verify with key {kid!r}") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthenticationError(f"algorithm not allowed: {exc}") from exc
        except jwt.InvalidKeyError as exc:
            raise AuthenticationError(f"signing key {kid!r} unusable: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {str(exc)[:120]}") from exc
        return claims

    def _check_client(self, claims: Mapping[str, Any]) -> str:
        present = {name: claims[name] for name in ("azp", "appid") if name in claims}
        if not present:
            raise AuthenticationError(
                "token has neither azp nor appid: expected Entra's authentication events app"
            )
        for name, value in present.items():
            if not isinstance(value, str) or value.lower() not in self.allowed_clients:
                raise AuthenticationError(
                    f"wrong {name}: expected {' or '.join(sorted(self.allowed_clients))}, "
                    f"got {_short(value)}"
                )
        tid = claims.get("tid")
        if self.tenant_id and tid is not None and str(tid).lower() != self.tenant_id:
            raise AuthenticationError(
                f"wrong tenant: expected tid {self.tenant_id!r}, got {_short(tid)}"
            )
        return str(next(iter(present.values())))


def _unverified(token: str) -> dict[str, Any]:
    # Only after pyjwt verified the signature: the values are then authentic, and worth logging.
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload
