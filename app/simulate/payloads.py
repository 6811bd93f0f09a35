"""Request bodies shaped like Entra's, per step, contract and variant (REFERENCE §1, §3)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from app.errors import ToolError
from app.simulate import steps

Claims = dict[str, object]

# Placeholder identifiers in the shape Entra uses (GUIDs; the extensions app id without dashes).
DEFAULT_EXTENSIONS_APP_ID = "b2c0ffee5e1f4d2b9d4a2c5e7f8a9b10"
DEFAULT_CLIENT_ID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
DEFAULT_OBJECT_ID = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
DEFAULT_TENANT_ID = "30000000-0000-0000-0000-000000000003"

VARIANTS = (
    "full",  # every claim the step carries
    "minimal",  # optional claims left out, as Entra does when they have no value
    "identities-only",  # no email claim, only identities
    "other-surname",  # lastName where surname is usual and vice versa
    "custom-attributes",  # typed custom attributes (bool, int, 250-character string)
    "unknown-claims",  # claims the endpoint does not know about
    "b2c-aliases",  # PreTokenApplicationClaims / clientId / short issuer names
)


@dataclass(frozen=True)
class Profile:
    """The simulated user and tenant; `claims` (from --claim) override whatever a builder sets."""

    email: str = "simulated.user@example.com"
    locale: str = "en-US"
    claims: tuple[tuple[str, object], ...] = ()
    extensions_app_id: str = DEFAULT_EXTENSIONS_APP_ID
    client_id: str = DEFAULT_CLIENT_ID
    object_id: str = DEFAULT_OBJECT_ID
    b2c: bool = False

    def custom(self, name: str) -> str:
        """A custom attribute's name the way Entra sends it."""
        return f"extension_{self.extensions_app_id.replace('-', '')}_{name}"

    def with_claim(self, name: str, value: object) -> Profile:
        """The same profile with one more (overriding) claim."""
        return replace(self, claims=(*self.claims, (name, value)))


def parse_claim(text: str) -> tuple[str, object]:
    """`K=V` (a string) or `K:=JSON` (a typed value such as true or 42)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.rstrip(":"):
        raise ToolError(f"expected a claim as NAME=VALUE or NAME:=JSON, got {text!r}")
    if not name.endswith(":"):
        return name, raw
    try:
        return name[:-1], json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"claim {name[:-1]}: expected a JSON value after ':=', got {raw!r}"
        ) from exc


def _identities(*, short_issuer: bool = False) -> list[Claims]:
    return [
        {
            "signInType": "federated",
            "issuer": "google" if short_issuer else "google.com",
            "issuerAssignedId": "109876543210987654321",
        }
    ]


def connector_claims(step: str | None, profile: Profile, variant: str = "full") -> Claims:
    """The flat claim object of the API connector contract for one step (None: unknown step)."""
    if variant not in VARIANTS:
        raise ToolError(f"expected a request variant in {', '.join(VARIANTS)}, got {variant!r}")
    body: Claims = {}
    if variant != "identities-only":
        body["email"] = profile.email
    if variant not in ("minimal",):
        body["identities"] = _identities(short_issuer=variant == "b2c-aliases")
    if variant not in ("minimal", "identities-only"):
        body.update(_profile_claims(step, profile, swap=variant == "other-surname"))
    if variant == "custom-attributes":
        body[profile.custom("Newsletter")] = True
        body[profile.custom("LoyaltyNumber")] = 1234567
        body[profile.custom("Notes")] = "n" * 250
    if variant == "unknown-claims":
        body["preferredLanguage"] = "en"
        body["newClaimFromEntra"] = {"nested": ["value"]}
        body[profile.custom("NotConfiguredHere")] = "ignored"
    body["ui_locales"] = profile.locale
    if profile.b2c and step in steps.B2C_STEP_NAMES:
        aliases = variant == "b2c-aliases"
        name = steps.B2C_STEP_NAMES[step]
        body["step"] = steps.B2C_TOKEN_ALIAS if aliases and step == steps.TOKEN else name
        body["clientId" if aliases else "client_id"] = profile.client_id
    body.update(profile.claims)
    return body


def _profile_claims(step: str | None, profile: Profile, *, swap: bool) -> Claims:
    """Names and attributes: lastName after federation, surname later (REFERENCE §1)."""
    last_key = "lastName" if step == steps.FEDERATION else "surname"
    if swap:
        last_key = "surname" if last_key == "lastName" else "lastName"
    claims: Claims = {"displayName": "Ada Lovelace", "givenName": "Ada", last_key: "Lovelace"}
    if step in (steps.ATTRIBUTES, steps.TOKEN, None):
        claims.update(
            {
                "jobTitle": "Analyst",
                "streetAddress": "1 Example Street",
                "city": "Seattle",
                "postalCode": "98052",
                "state": "Washington",
                "country": "United States",
                profile.custom("CustomAttribute1"): "custom attribute value",
                profile.custom("CustomAttribute2"): "custom attribute value",
            }
        )
    if step == steps.TOKEN:
        claims["objectId"] = profile.object_id
    return claims


_ODATA_VALUE = {bool: "boolean", int: "int64", str: "string"}


def _attribute(name: str, value: object) -> Claims:
    kind = _ODATA_VALUE.get(type(value), "string")
    return {
        "@odata.type": f"microsoft.graph.{kind}DirectoryAttributeValue",
        "value": value,
        "attributeType": "directorySchemaExtension" if name.startswith("extension_") else "builtIn",
    }


def extension_event(step: str | None, profile: Profile, variant: str = "full") -> Claims:
    """The authentication-extension callout for attributeCollectionStart/Submit (REFERENCE §3)."""
    flat = connector_claims(steps.ATTRIBUTES, replace(profile, b2c=False), variant)
    identities: object = flat.pop("identities", None)
    locale = str(flat.pop("ui_locales", profile.locale))
    if step == steps.START:
        event = "attributeCollectionStart"
    elif step == steps.SUBMIT:
        event = "attributeCollectionSubmit"
    else:
        event = "notAnAttributeCollectionEvent"
    if "email" in flat and variant != "identities-only":
        identities = [
            {
                "signInType": "email",
                "issuer": "contoso.onmicrosoft.com",
                "issuerAssignedId": flat["email"],
            }
        ]
    attributes = {name: _attribute(name, value) for name, value in flat.items()}
    sign_up: Claims = {"attributes": attributes}
    if identities is not None:
        sign_up["identities"] = identities
    return {
        "type": f"microsoft.graph.authenticationEvent.{event}",
        "source": f"/tenants/{DEFAULT_TENANT_ID}/applications/{profile.client_id}",
        "data": {
            "@odata.type": f"microsoft.graph.on{event[0].upper()}{event[1:]}CalloutData",
            "tenantId": DEFAULT_TENANT_ID,
            "authenticationEventListenerId": "10000000-0000-0000-0000-000000000001",
            "customAuthenticationExtensionId": "10000000-0000-0000-0000-000000000002",
            "authenticationContext": {
                "correlationId": "d2f1c3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6",
                "client": {"ip": "203.0.113.10", "locale": locale.lower(), "market": "en-us"},
                "protocol": "OAUTH2.0",
                "clientServicePrincipal": {"appId": profile.client_id},
                "resourceServicePrincipal": {"appId": profile.client_id},
            },
            "userSignUpInfo": sign_up,
        },
    }


def build(step: str | None, contract: str, profile: Profile, variant: str = "full") -> Claims:
    """The request body Entra sends for this step under this contract."""
    if contract == steps.AUTH_EXTENSION:
        return extension_event(step, profile, variant)
    return connector_claims(step, profile, variant)


def encode(body: object) -> bytes:
    """JSON the way Entra sends it: UTF-8, no ASCII escaping needed."""
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
