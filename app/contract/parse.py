"""Parse an API connector request body into a SignupRequest, or raise RequestError."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from app.contract.model import (
    ALIASES,
    Identity,
    SignupRequest,
    Step,
    Value,
    normalise_issuer,
    short_claim_name,
    step_from_body,
)
from app.errors import RequestError
from app.rules.domains import email_domain

_MAX_IDENTITIES = 20


def _reject_constant(name: str) -> Any:
    raise RequestError(f"JSON constant {name} is not allowed")


# Built once: passing hooks to json.loads builds a new decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def load_json_object(body: bytes) -> dict[str, Any]:
    """Strict UTF-8 JSON whose top level is an object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        data = _DECODER.decode(text)
    except RecursionError as exc:
        raise RequestError("body is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError and int-too-long both subclass ValueError
        raise RequestError(f"body is not JSON: {str(exc)[:80]}") from exc
    if not isinstance(data, dict):
        raise RequestError(f"expected a JSON object, got {type(data).__name__}")
    return data


def check_text(name: str, value: str) -> str:
    # A lone surrogate (from a \ud800 escape) cannot be stored, logged or re-encoded.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RequestError(f"claim {name!r} holds an unpaired surrogate") from exc
    return value


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"claim {key!r}: expected a string, got {type(value).__name__}")
    return check_text(key, value)


def _identities(value: object) -> tuple[Identity, ...]:
    if value is None:
        return ()
    if type(value) is not list or len(value) > _MAX_IDENTITIES:
        raise RequestError(
            f"claim 'identities': expected an array of at most {_MAX_IDENTITIES} objects"
        )
    out = []
    for item in value:
        if type(item) is not dict:
            raise RequestError("claim 'identities': expected objects in the array")
        sign_in_type = item.get("signInType")
        issuer = item.get("issuer")
        assigned = item.get("issuerAssignedId")
        if type(sign_in_type) is str and type(issuer) is str and type(assigned) is str:
            if not (sign_in_type + issuer + assigned).isascii():
                check_text("signInType", sign_in_type)
                check_text("issuer", issuer)
                check_text("issuerAssignedId", assigned)
        else:  # absent, null or the wrong type: the general path says which
            sign_in_type = _string(item, "signInType") or ""
            issuer = _string(item, "issuer") or ""
            assigned = _string(item, "issuerAssignedId") or ""
        out.append(Identity(sign_in_type, normalise_issuer(issuer), assigned))
    return tuple(out)


def parse_connector(body: bytes, url_step: Step | None) -> SignupRequest:
    """The API connector contract (REFERENCE §1); the URL's step wins over the body's."""
    data = load_json_object(body)
    attributes: dict[str, Value] = {}
    custom = []
    for key, value in data.items():
        kind = type(value)
        if kind is str and key in _PLAIN_CLAIMS:  # the usual claims take the short way
            if not value.isascii():
                check_text(key, value)
            attributes[key] = value
            continue
        # JSON gives exact types: str, bool and int are the scalars a claim may hold.
        if kind is not str and kind is not bool and kind is not int:
            if value is None or key == "identities":
                continue  # a claim with no value is simply absent
            if key.startswith("extension_"):
                raise RequestError(
                    f"custom attribute {key!r}: expected a string, boolean or integer, "
                    f"got {kind.__name__}"
                )
            if key in STRING_CLAIMS:
                raise RequestError(f"claim {key!r}: expected a string, got {kind.__name__}")
            continue  # unknown structured claims are not ours to judge
        if key.startswith("extension_"):
            name = short_claim_name(key)
            custom.append(name)
        elif key == "identities":
            continue
        else:
            if kind is not str and key in STRING_CLAIMS:
                raise RequestError(f"claim {key!r}: expected a string, got {kind.__name__}")
            name = ALIASES.get(key, key)
            if name != key and name in attributes:
                continue  # surname beats lastName, client_id beats clientId
        if kind is str and not value.isascii():
            check_text(key, value)
        attributes[name] = value
    email = attributes.get("email")
    email = email if isinstance(email, str) and email else None
    locale = attributes.get("ui_locales")
    client_id = attributes.get("client_id")
    object_id = attributes.get("objectId")
    # Positional: keyword matching costs as much as the rest of building it.
    return SignupRequest(
        _step(attributes.get("step"), url_step),
        email,
        email_domain(email) if email is not None else None,
        _identities(data.get("identities")),
        locale if isinstance(locale, str) and locale else None,
        client_id if isinstance(client_id, str) else None,
        object_id if isinstance(object_id, str) else None,
        MappingProxyType(attributes),
        frozenset(custom),
    )


def _step(body_step: object, url_step: Step | None) -> Step:
    if not isinstance(body_step, str):
        return url_step if url_step is not None else Step.UNKNOWN
    parsed = step_from_body(body_step)
    if url_step is None:
        return parsed
    if parsed is not url_step:
        raise RequestError(
            f"body step {body_step[:40]!r} contradicts the URL's step {url_step.value}"
        )
    return url_step


STRING_CLAIMS = frozenset(
    {
        "email",
        "displayName",
        "givenName",
        "surname",
        "lastName",
        "jobTitle",
        "streetAddress",
        "city",
        "postalCode",
        "state",
        "country",
        "ui_locales",
        "client_id",
        "clientId",
        "objectId",
        "step",
    }
)
# String claims that are neither aliases nor custom: stored under their own name.
_PLAIN_CLAIMS = STRING_CLAIMS - ALIASES.keys()
