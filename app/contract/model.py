"""The parsed, normalised request the rules see, whichever contract it arrived by."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

Value = str | bool | int


class Step(Enum):
    POST_FEDERATION_SIGNUP = "post-federation-signup"
    POST_ATTRIBUTE_COLLECTION = "post-attribute-collection"
    PRE_TOKEN_ISSUANCE = "pre-token-issuance"  # noqa: S105 - a step name, not a secret
    ATTRIBUTE_COLLECTION_START = "attribute-collection-start"
    ATTRIBUTE_COLLECTION_SUBMIT = "attribute-collection-submit"
    UNKNOWN = "unknown"

    @property
    def allows_validation_error(self) -> bool:
        return self in (Step.POST_ATTRIBUTE_COLLECTION, Step.ATTRIBUTE_COLLECTION_SUBMIT)


# B2C's `step` values, case-insensitively; one B2C page spells the token step differently.
_B2C_STEPS = {
    "postfederationsignup": Step.POST_FEDERATION_SIGNUP,
    "postattributecollection": Step.POST_ATTRIBUTE_COLLECTION,
    "pretokenissuance": Step.PRE_TOKEN_ISSUANCE,
    "pretokenapplicationclaims": Step.PRE_TOKEN_ISSUANCE,
}


def step_from_body(value: str) -> Step:
    return _B2C_STEPS.get(value.strip().lower(), Step.UNKNOWN)


# Claims named like Graph user properties; anything else is a custom attribute on output.
BUILTIN_CLAIMS = frozenset(
    {
        "email",
        "displayName",
        "givenName",
        "surname",
        "jobTitle",
        "streetAddress",
        "city",
        "postalCode",
        "state",
        "country",
        "objectId",
        "ui_locales",
        "client_id",
        "step",
        "identities",
        "mobilePhone",
        "companyName",
        "department",
        "officeLocation",
    }
)
ALIASES = {"lastName": "surname", "clientId": "client_id"}
_EXTENSION = re.compile(r"^extension_(?:[0-9a-fA-F]{32}_)?(.+)$")
_ISSUER_ALIASES = {"google.com": "google", "facebook.com": "facebook"}


def normalise_claim_name(name: str) -> str:
    """`lastName` -> `surname`, `clientId` -> `client_id`, `extension_<id>_X` -> `X`."""
    name = name.strip()
    if not name.startswith("extension_"):
        return ALIASES.get(name, name)
    m = _EXTENSION.match(name)
    if m:
        return m.group(1)
    return ALIASES.get(name, name)


_SHORT_NAMES: dict[str, str] = {}
_SHORT_NAMES_LIMIT = 4096


def short_claim_name(name: str) -> str:
    """``normalise_claim_name``, remembered: a tenant sends the same few claim names."""
    short = _SHORT_NAMES.get(name)
    if short is None:
        short = normalise_claim_name(name)
        if len(_SHORT_NAMES) < _SHORT_NAMES_LIMIT and len(name) <= 128:
            _SHORT_NAMES[name] = short
    return short


def normalise_issuer(issuer: str) -> str:
    """`google.com` and `google` (and likewise facebook) are the same identity provider."""
    value = issuer.strip().lower().rstrip(".")
    return _ISSUER_ALIASES.get(value, value)


class Identity(NamedTuple):
    """One entry of `identities`; a NamedTuple: immutable and cheap on the hot path."""

    sign_in_type: str
    issuer: str  # normalised
    issuer_assigned_id: str


_NOTHING: Mapping[str, str] = MappingProxyType({})


class SignupRequest(NamedTuple):
    """The request as the rules see it: immutable, and a NamedTuple because one is built for
    every call (a frozen dataclass costs four times as much to construct)."""

    step: Step
    email: str | None = None
    email_domain: str | None = None
    identities: tuple[Identity, ...] = ()
    locale: str | None = None
    client_id: str | None = None
    object_id: str | None = None
    # Every scalar claim by normalised short name (custom attributes without their prefix).
    attributes: Mapping[str, Value] = _NOTHING
    # Short names that arrived as extension_* custom attributes.
    custom: frozenset[str] = frozenset()
    # Attribute types as the caller declared them (authentication-extension contract).
    attribute_types: Mapping[str, str] = _NOTHING
    # Short name -> the name as the request spelt it (authentication-extension contract).
    names: Mapping[str, str] = _NOTHING

    @property
    def identity_provider(self) -> str | None:
        """The federated provider if any, else the first identity's issuer."""
        for identity in self.identities:
            if identity.sign_in_type.lower() == "federated":
                return identity.issuer
        return self.identities[0].issuer if self.identities else None
