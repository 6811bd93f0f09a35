"""Parse an API connector request body into a SignupRequest, or raise RequestError."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from app.contract.model import (
    Identity,
    SignupRequest,
    Step,
    Value,
    normalise_claim_name,
    normalise_issuer,
    step_from_body,
)
from app.errors import RequestError
from app.rules.domains import email_domain

_MAX_IDENTITIES = 20


def _reject_constant(name: str) -> Any:
    raise RequestError(f"JSON constant {name} is not allowed")


def load_json_object(body: bytes) -> dict[str, Any]:
    """Strict UTF-8 JSON whose top level is an object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
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
    if not isinstance(value, list) or len(value) > _MAX_IDENTITIES:
        raise RequestError(
            f"claim 'identities': expected an array of at most {_MAX_IDENTITIES} objects"
        )
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise RequestError("claim 'identities': expected objects in the array")
        fields = [_string(item, k) or "" for k in ("signInType", "issuer", "issuerAssignedId")]
        out.append(Identity(fields[0], normalise_issuer(fields[1]), fields[2]))
    return tuple(out)


def parse_connector(body: bytes, url_step: Step | None) -> SignupRequest:
    """The API connector contract (REFERENCE §1); the URL's step wins over the body's."""
    data = load_json_object(body)
    body_step = _string(data, "step")
    step = url_step if url_step is not None else Step.UNKNOWN
    if body_step is not None:
        parsed = step_from_body(body_step)
        if url_step is None:
            step = parsed
        elif parsed is not url_step:
            raise RequestError(
                f"body step {body_step[:40]!r} contradicts the URL's step {url_step.value}"
            )
    attributes: dict[str, Value] = {}
    custom = set()
    for key, value in data.items():
        if key == "identities":
            continue
        if isinstance(value, bool | int | str):
            if isinstance(value, str):
                check_text(key, value)
            name = normalise_claim_name(key)
            if key.startswith("extension_"):
                custom.add(name)
            elif name in attributes and name != key:
                continue  # surname beats lastName, client_id beats clientId
            attributes[name] = value
        elif value is not None and not key.startswith("extension_"):
            # Known claims are strings; unknown structured claims are not ours to judge,
            # but a known claim of the wrong type means the request is unusable.
            if normalise_claim_name(key) in _STRING_CLAIMS:
                raise RequestError(f"claim {key!r}: expected a string, got {type(value).__name__}")
        elif value is not None:
            raise RequestError(
                f"custom attribute {key!r}: expected a string, boolean or "
                f"integer, got {type(value).__name__}"
            )
    for key in _STRING_CLAIMS:
        value = attributes.get(key)
        if value is not None and not isinstance(value, str):
            raise RequestError(f"claim {key!r}: expected a string, got {type(value).__name__}")
    email = attributes.get("email")
    domain = email_domain(email) if isinstance(email, str) and email else None
    locale = attributes.get("ui_locales")
    client_id = attributes.get("client_id")
    object_id = attributes.get("objectId")
    return SignupRequest(
        step=step,
        email=email if isinstance(email, str) and email else None,
        email_domain=domain,
        identities=_identities(data.get("identities")),
        locale=locale if isinstance(locale, str) and locale else None,
        client_id=client_id if isinstance(client_id, str) else None,
        object_id=object_id if isinstance(object_id, str) else None,
        attributes=MappingProxyType(attributes),
        custom=frozenset(custom),
    )


_STRING_CLAIMS = frozenset(
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
        "ui_locales",
        "client_id",
        "objectId",
        "step",
    }
)
