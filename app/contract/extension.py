"""The custom authentication extension contract (REFERENCE §3): parse and render.

Requests carry `data.userSignUpInfo.attributes` as typed values by their full names; they
become the same SignupRequest the API connector produces (short names, identities, locale),
and the renderer answers with one documented action, returning values in the request's
types under the request's names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from app.contract.model import (
    BUILTIN_CLAIMS,
    Identity,
    SignupRequest,
    Step,
    Value,
    normalise_claim_name,
    normalise_issuer,
)
from app.contract.parse import check_text, load_json_object
from app.decision import Action, Decision
from app.errors import RequestError
from app.logs import event
from app.rules.domains import email_domain

if TYPE_CHECKING:
    from app.services import Services

Answer = tuple[int, dict[str, object]]

EVENTS = {
    Step.ATTRIBUTE_COLLECTION_START: "attributeCollectionStart",
    Step.ATTRIBUTE_COLLECTION_SUBMIT: "attributeCollectionSubmit",
}
_EVENT_TYPE = "microsoft.graph.authenticationEvent."
# Directory attribute value types, by the word in microsoft.graph.<word>DirectoryAttributeValue.
STRING, BOOLEAN, INT = "string", "boolean", "int64"
_ODATA_TYPES = {STRING, BOOLEAN, INT}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_ATTRIBUTES = 200
_MAX_IDENTITIES = 20


# The extension parser's result: a SignupRequest whose `names` remembers each attribute's
# spelling (e.g. "Role" -> "extension_<appid>_Role").
ExtensionRequest = SignupRequest


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _optional_object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    return {} if value is None else _object(value, f"{where}.{key}")


def _text(parent: dict[str, Any], key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return check_text(f"{where}.{key}", value)


def _event_step(data: dict[str, Any], url_step: Step | None) -> Step:
    """The body's event type must be the URL's (a start extension pointed at submit is a bug)."""
    kind = _text(data, "type", "body")
    if kind is None:
        raise RequestError('expected "type": "microsoft.graph.authenticationEvent.<event>"')
    event_name = kind.removeprefix(_EVENT_TYPE).lower() if kind.startswith(_EVENT_TYPE) else ""
    step = next((s for s, e in EVENTS.items() if e.lower() == event_name), None)
    if step is None:
        raise RequestError(
            f"expected an attributeCollectionStart or attributeCollectionSubmit event, "
            f"got {kind[:80]!r}"
        )
    if url_step is not None and step is not url_step:
        raise RequestError(f"event {EVENTS[step]} contradicts the URL's step {url_step.value}")
    return step


def _odata_kind(attribute: dict[str, Any]) -> str | None:
    # One documented example spells the key "@odata.Type".
    for key, value in attribute.items():
        if key.lower() == "@odata.type" and isinstance(value, str):
            word = value.rsplit(".", 1)[-1].removesuffix("DirectoryAttributeValue").lower()
            return word if word in _ODATA_TYPES else STRING
    return None


def _attribute(name: str, raw: object) -> tuple[Value | None, str] | None:
    """(value, declared type), or None to ignore; lists are multi-valued strings."""
    attribute = _object(raw, f"attribute {name!r}")
    value = attribute.get("value")
    declared = _odata_kind(attribute)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)  # answered comma-delimited, as the docs say
    if value is None:
        return None, declared or STRING
    if not isinstance(value, bool | int | str):
        # As for API connectors: an attribute nobody configured, in a shape we cannot use,
        # is not ours to judge; a known or custom one is, and then the request is unusable.
        if name.startswith("extension_") or normalise_claim_name(name) in BUILTIN_CLAIMS:
            raise RequestError(
                f"attribute {name!r}: expected a string, boolean or integer value, "
                f"got {type(value).__name__}"
            )
        return None
    if isinstance(value, str):
        check_text(name, value)
    inferred = BOOLEAN if isinstance(value, bool) else INT if isinstance(value, int) else STRING
    return value, declared or inferred


def _identities(sign_up: dict[str, Any]) -> tuple[Identity, ...]:
    value = sign_up.get("identities")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _MAX_IDENTITIES:
        raise RequestError(f"identities: expected an array of at most {_MAX_IDENTITIES} objects")
    found = []
    for item in value:
        entry = _object(item, "identities[]")
        parts = [_text(entry, k, "identities[]") or "" for k in ("signInType", "issuer")]
        assigned = _text(entry, "issuerAssignedId", "identities[]") or ""
        found.append(Identity(parts[0], normalise_issuer(parts[1]), assigned))
    return tuple(found)


def parse_extension(body: bytes, url_step: Step | None) -> ExtensionRequest:
    """The documented attributeCollectionStart/Submit request as the rules' SignupRequest."""
    document = load_json_object(body)
    step = _event_step(document, url_step)
    data = _object(document.get("data"), "data")
    context = _optional_object(data, "authenticationContext", "data")
    client = _optional_object(context, "client", "authenticationContext")
    app = _optional_object(context, "clientServicePrincipal", "authenticationContext")
    sign_up = _optional_object(data, "userSignUpInfo", "data")
    raw_attributes = _optional_object(sign_up, "attributes", "userSignUpInfo")
    if len(raw_attributes) > _MAX_ATTRIBUTES:
        raise RequestError(f"attributes: expected at most {_MAX_ATTRIBUTES}")
    attributes: dict[str, Value] = {}
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    custom: set[str] = set()
    for full_name, raw in raw_attributes.items():
        parsed = _attribute(full_name, raw)
        if parsed is None:
            continue
        value, declared = parsed
        short = normalise_claim_name(full_name)
        if names.get(short) == short:
            continue  # surname beats lastName, as for API connectors
        if full_name.startswith("extension_"):
            custom.add(short)
        names[short], types[short] = full_name, declared
        if value is not None:
            attributes[short] = value
    identities = _identities(sign_up)
    email = attributes.get("email")
    if not isinstance(email, str) or not email:
        # External tenants put the verified email in identities, not always in attributes.
        email = next((i.issuer_assigned_id for i in identities if i.sign_in_type == "email"), "")
        if email:
            attributes.setdefault("email", email)
    return ExtensionRequest(
        step=step,
        email=email or None,
        email_domain=email_domain(email) if email else None,
        identities=identities,
        locale=_text(client, "locale", "client") or None,
        client_id=_text(app, "appId", "clientServicePrincipal") or None,
        attributes=MappingProxyType(attributes),
        custom=frozenset(custom),
        attribute_types=MappingProxyType(types),
        names=MappingProxyType(names),
    )


def _coerce(value: Value, kind: str | None) -> Value | None:
    """The value in the attribute's declared type (Entra rejects a mismatch); None if impossible."""
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return {"true": True, "false": False}.get(text)
    if kind == INT:
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        text = str(value).strip()
        if number is None and text.lstrip("-").isdigit() and len(text) < 21:
            number = int(text)
        return number if number is not None and _INT64_MIN <= number <= _INT64_MAX else None
    if kind == STRING:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return value


def _output_name(short: str, parsed: SignupRequest | None, prefix: str) -> str:
    if parsed is not None and short in parsed.names:
        return parsed.names[short]
    return short if short in BUILTIN_CLAIMS else prefix + short


def _typed_claims(
    claims: Mapping[str, Value], parsed: SignupRequest | None, prefix: str
) -> dict[str, Value]:
    out: dict[str, Value] = {}
    types = parsed.attribute_types if parsed is not None else {}
    for short, value in claims.items():
        typed = _coerce(value, types.get(short))
        name = _output_name(short, parsed, prefix)
        if typed is None:
            # A claim rule's value that cannot take the attribute's type: Entra would reject
            # the whole answer, so leave the attribute as the user entered it, and say so.
            event(logging.WARNING, "extension.claim_type", attribute=name, type=types.get(short))
            continue
        out[name] = typed
    return out


def _answer(step: Step, action: str, **fields: object) -> Answer:
    event_name = EVENTS[step]
    data_type = f"microsoft.graph.on{event_name[0].upper()}{event_name[1:]}ResponseData"
    act: dict[str, object] = {"@odata.type": f"microsoft.graph.{event_name}.{action}", **fields}
    return 200, {"data": {"@odata.type": data_type, "actions": [act]}}


def render_extension(
    decision: Decision, step: Step, parsed: SignupRequest | None, services: Services
) -> Answer:
    """One action for Entra; ValidationError at start (not allowed there) blocks."""
    prefix = services.config.extension_prefix
    # Every extension URL names its event, so the pipeline passes a known step even when
    # the body was unreadable; start's shape is only a fallback for a misrouted call.
    if step not in EVENTS:
        step = Step.ATTRIBUTE_COLLECTION_START
    if decision.action is Action.CONTINUE:
        claims = _typed_claims(decision.claims, parsed, prefix)
        if not claims:
            return _answer(step, "continueWithDefaultBehavior")
        if step is Step.ATTRIBUTE_COLLECTION_START:
            return _answer(step, "setPrefillValues", inputs=claims)
        return _answer(step, "modifyAttributeValues", attributes=claims)
    if decision.action is Action.VALIDATION_ERROR and step.allows_validation_error:
        errors = {
            _output_name(short, parsed, prefix): message
            for short, message in decision.attribute_errors.items()
        }
        return _answer(
            step, "showValidationError", message=decision.message, attributeErrors=errors
        )
    return _answer(step, "showBlockPage", message=decision.message)
