"""The custom authentication extension at the gateway: validate-jwt from `[auth.entra_token]`.

Entra calls the two extension operations with a bearer token and no client certificate, so
the gateway checks that token the way app/auth/token.py does (same issuer, audience, client
ids and leeway, read from the same section) instead of the connector operations' caller
checks. Without a tenant (or issuer) and an audience nothing could check the token: the
rendered policy then refuses the extension operations outright.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.auth.token import default_issuer, metadata_url
from app.config.model import AuthConfig
from app.errors import ConfigError, ToolError

# Operation names (APIM operation ids) of the extension endpoints; infra/main.bicep's
# apiOperations creates them under these names and the policy selects them by name.
OPERATIONS = ("attribute-collection-start", "attribute-collection-submit")
BEARER_REALM = "authentication-extension"  # the app's challenge for this family
_KEY = "auth.entra_token"
_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class ExtensionGateway:
    """What validate-jwt demands of Entra's token on the extension operations."""

    openid_config_url: str  # where the gateway finds the tenant's signing keys
    issuer: str
    audience: str
    client_claim: str  # "azp" for a v2.0 issuer, "appid" for a v1.0 one
    client_ids: tuple[str, ...]  # Entra's authentication events service by default
    clock_skew: int  # seconds, the app's leeway_seconds


def extension_gateway(auth: AuthConfig, backend_auth: str, source: str) -> ExtensionGateway | None:
    """The token checks for the extension operations; None when none are configured."""
    # Checklist: (1) nothing configured: the policy refuses the operations; (2) check what
    # the loader checks only for an enabled entra_token; (3) a basic backend credential
    # needs the app to check the token; (4) issuer, keys and client claim as the app has them.
    token = auth.entra_token
    if not (token.tenant_id or token.issuer or token.audience):
        return None  # (1) the loader refuses "entra_token" in methods without these

    def error(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: {_KEY}.{key}: {problem}")

    # (2) the gateway uses these whether or not the app has entra_token among its methods
    if token.tenant_id and not _GUID.match(token.tenant_id):
        raise error("tenant_id", f"expected the tenant id (a GUID), got {token.tenant_id!r}")
    if not (token.tenant_id or token.issuer):
        raise error(
            "tenant_id",
            "expected the tenant id (a GUID) or an issuer: the gateway's validate-jwt on the "
            "extension operations needs the tenant's signing keys",
        )
    if token.issuer:
        parts = urlsplit(token.issuer)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise error("issuer", f"expected an https:// URL, got {token.issuer[:100]!r}")
    if not token.audience or token.audience != token.audience.strip():
        raise error(
            "audience",
            "expected the API's application id or URI (the token's aud): the gateway's "
            f"validate-jwt on the extension operations needs it, got {token.audience!r}",
        )
    if not token.allowed_client_ids:
        raise error("allowed_client_ids", "expected at least one application id")
    for i, client in enumerate(token.allowed_client_ids):
        if not _GUID.match(client):
            raise error(f"allowed_client_ids[{i}]", f"expected a GUID, got {client!r}")
    if backend_auth == "basic" and "entra_token" not in auth.methods:  # (3)
        # authentication-basic would overwrite the bearer token, and basic does not serve the
        # extension family: the forwarded token is then the app's only proof.
        raise ConfigError(
            f"{source}: auth.methods: expected 'entra_token' when apim.backend.auth is "
            "'basic' and the extension operations are served: the gateway forwards Entra's "
            "token as the only credential the app can check on them, got "
            f"{list(auth.methods)}"
        )
    issuer = token.issuer or default_issuer(token.tenant_id)  # (4)
    if token.tenant_id:
        openid = metadata_url(token.tenant_id)
    else:
        openid = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return ExtensionGateway(
        openid_config_url=openid,
        issuer=issuer,
        audience=token.audience,
        # v2.0 tokens name the calling app in azp, v1.0 tokens in appid; one issuer is
        # accepted, so its version decides which claim every admitted token carries.
        client_claim="azp" if issuer.rstrip("/").endswith("/v2.0") else "appid",
        client_ids=tuple(c.lower() for c in token.allowed_client_ids),
        clock_skew=token.leeway_seconds,
    )


def verify_extension(root: ET.Element, gateway: ExtensionGateway | None, name: str) -> None:
    """Refuse a document whose extension operations the gateway would not guard as configured."""
    conditions = [w.get("condition") or "" for w in root.iter("when")]
    if not any(all(f'Operation.Id == "{op}"' in c for op in OPERATIONS) for c in conditions):
        raise ToolError(f"rendered {name}: no <when> selects the operations {list(OPERATIONS)}")
    jwts = list(root.iter("validate-jwt"))
    if gateway is None:
        if jwts or not list(root.iter("return-response")):
            raise ToolError(
                f"rendered {name}: [auth.entra_token] is not configured, expected the extension "
                f"operations refused (return-response), got {len(jwts)} validate-jwt"
            )
        return
    if len(jwts) != 1:
        raise ToolError(f"rendered {name}: expected one validate-jwt, got {len(jwts)}")
    (jwt,) = jwts
    got = (
        [e.text for e in jwt.iter("audience")],
        [e.text for e in jwt.iter("issuer")],
        [(c.get("name"), tuple(v.text for v in c.iter("value"))) for c in jwt.iter("claim")],
    )
    expected = (
        [gateway.audience],
        [gateway.issuer],
        [(gateway.client_claim, gateway.client_ids)],
    )
    if got != expected:
        raise ToolError(
            f"rendered {name}: validate-jwt checks audience, issuer and client {got}, "
            f"[auth.entra_token] says {expected}: the gateway and the app would drift apart"
        )
