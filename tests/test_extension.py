"""The custom authentication extension contract: every action at both events, typed values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests import tokens
from tests.conftest import build_config

START = "/api/authentication-extension/attribute-collection-start"
SUBMIT = "/api/authentication-extension/attribute-collection-submit"
APP_ID = "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"  # extensions_app_id in tokens.config_toml


def ext(name: str) -> str:
    return f"extension_{APP_ID}_{name}"


RULES = f"""
[rules.email_domains]
deny = ["mailinator.com"]

[rules.identity_providers]
deny = ["facebook.com"]

[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{{5}}$"
message.en = "Please enter a valid postal code."
message.fr = "Veuillez saisir un code postal valide."

[[rules.attributes]]
name = "{ext("Role")}"
allowed = ["student", "teacher"]
message = "Choose student or teacher."

[[rules.attributes]]
name = "givenName"
pattern = "^[A-Za-z ]+$"
steps = ["attribute-collection-start", "attribute-collection-submit"]
message = "Letters only, please."

[[rules.claims]]
name = "Tier"
value = "gold"
when_email_domains = ["fabrikam.com"]

[[rules.claims]]
name = "OnMailingList"
value = "true"
when_email_domains = ["fabrikam.com"]

[[rules.claims]]
name = "GraduationYear"
value = "2011"
when_email_domains = ["fabrikam.com"]

[[rules.claims]]
name = "city"
value = 12
when_email_domains = ["fabrikam.com"]

[[rules.claims]]
name = "Department"
value = "Sales"
when_email_domains = ["fabrikam.com"]
"""


def value(v: Any, kind: str | None = None) -> dict[str, Any]:
    kind = kind or {bool: "boolean", int: "int64"}.get(type(v), "string")
    return {
        "@odata.type": f"microsoft.graph.{kind}DirectoryAttributeValue",
        "value": v,
        "attributeType": "builtIn",
    }


def event(
    url: str,
    attributes: dict[str, Any] | None = None,
    email: str = "ada@contoso.com",
    locale: str = "en-us",
    identities: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    name = "attributeCollectionStart" if url == START else "attributeCollectionSubmit"
    callout = name[0].upper() + name[1:]
    return {
        "type": f"microsoft.graph.authenticationEvent.{name}",
        "source": f"/tenants/{tokens.TENANT}/applications/app",
        "data": {
            "@odata.type": f"microsoft.graph.on{callout}CalloutData",
            "tenantId": tokens.TENANT,
            "authenticationEventListenerId": "10000000-0000-0000-0000-000000000001",
            "customAuthenticationExtensionId": "10000000-0000-0000-0000-000000000002",
            "authenticationContext": {
                "correlationId": "d2f1c3a4-5b6c-4d7e-8f90-a1b2c3d4e5f6",
                "client": {"ip": "203.0.113.10", "locale": locale, "market": "en-us"},
                "protocol": "OAUTH2.0",
                "clientServicePrincipal": {"appId": "11111111-2222-3333-4444-555555555555"},
            },
            "userSignUpInfo": {
                "attributes": attributes if attributes is not None else typed_attributes(),
                "identities": identities
                if identities is not None
                else [
                    {
                        "signInType": "email",
                        "issuer": "contoso.onmicrosoft.com",
                        "issuerAssignedId": email,
                    }
                ],
            },
        },
    }


def typed_attributes(**changes: Any) -> dict[str, Any]:
    attrs = {
        "givenName": value("Ada"),
        "city": value("Seattle"),
        "postalCode": value("98052"),
        ext("Role"): value("student"),
        ext("Tier"): value("basic"),
        ext("OnMailingList"): value(False),
        ext("GraduationYear"): value(2010),
    }
    attrs.update(changes)
    return {k: v for k, v in attrs.items() if v is not None}


@pytest.fixture(scope="module")
def jwks_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tokens.write_jwks(tmp_path_factory.mktemp("jwks") / "keys.json")


@pytest.fixture
def app(jwks_path: Path) -> Flask:
    return create_app(build_config(tokens.config_toml(jwks_path, RULES)), TESTING=True)


def call(client: FlaskClient, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    r = client.post(url, json=body, headers=tokens.bearer())
    assert r.content_type == "application/json"
    return r.status_code, r.get_json()


def action_of(url: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(action name, action object) after checking the envelope's documented types."""
    event_name = "attributeCollectionStart" if url == START else "attributeCollectionSubmit"
    data = body["data"]
    assert set(body) == {"data"}
    assert data["@odata.type"] == (
        f"microsoft.graph.on{event_name[0].upper()}{event_name[1:]}ResponseData"
    )
    [action] = data["actions"]
    prefix = f"microsoft.graph.{event_name}."
    assert action["@odata.type"].startswith(prefix)
    return action["@odata.type"].removeprefix(prefix), action


@pytest.mark.parametrize("url", [START, SUBMIT])
def test_continue_without_claims(client: FlaskClient, url: str) -> None:
    status, body = call(client, url, event(url))
    assert status == 200
    assert action_of(url, body) == (
        "continueWithDefaultBehavior",
        {"@odata.type": action_of(url, body)[1]["@odata.type"]},
    )


def test_start_prefills_typed_values_under_request_names(client: FlaskClient) -> None:
    status, body = call(client, START, event(START, email="grace@fabrikam.com"))
    assert status == 200
    name, action = action_of(START, body)
    assert name == "setPrefillValues"
    assert action["inputs"] == {
        ext("Tier"): "gold",
        ext("OnMailingList"): True,  # "true" from configuration -> the attribute's boolean
        ext("GraduationYear"): 2011,  # "2011" -> int64
        "city": "12",  # 12 -> string
        ext("Department"): "Sales",  # not in the request: configured prefix
    }


def test_submit_modifies_typed_values(client: FlaskClient) -> None:
    status, body = call(client, SUBMIT, event(SUBMIT, email="grace@fabrikam.com"))
    assert status == 200
    name, action = action_of(SUBMIT, body)
    assert name == "modifyAttributeValues"
    assert action["attributes"][ext("OnMailingList")] is True
    assert action["attributes"][ext("GraduationYear")] == 2011
    assert action["attributes"]["city"] == "12"


def test_value_that_cannot_take_the_type_is_left_out(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    attrs = typed_attributes(city=value(0, "int64"))  # a (strange) integer-typed city
    attrs[ext("Tier")] = value(True)
    _, body = call(client, SUBMIT, event(SUBMIT, attrs, email="grace@fabrikam.com"))
    _, action = action_of(SUBMIT, body)
    assert action["attributes"]["city"] == 12  # 12 fits int64...
    assert ext("Tier") not in action["attributes"]  # ..."gold" does not fit boolean
    assert any(r.getMessage() == "extension.claim_type" for r in caplog.records)


def test_submit_validation_error_names_the_attribute(client: FlaskClient) -> None:
    status, body = call(client, SUBMIT, event(SUBMIT, typed_attributes(postalCode=value("7500"))))
    assert status == 200
    name, action = action_of(SUBMIT, body)
    assert name == "showValidationError"
    assert action["message"] == "Please enter a valid postal code."
    assert action["attributeErrors"] == {"postalCode": "Please enter a valid postal code."}


def test_custom_attribute_error_uses_the_request_name(client: FlaskClient) -> None:
    attrs = typed_attributes(**{ext("Role"): value("pirate")})
    _, body = call(client, SUBMIT, event(SUBMIT, attrs))
    name, action = action_of(SUBMIT, body)
    assert name == "showValidationError"
    assert action["attributeErrors"] == {ext("Role"): "Choose student or teacher."}


def test_localised_by_client_locale(client: FlaskClient) -> None:
    body = event(SUBMIT, typed_attributes(postalCode=value("x")), locale="fr-fr")
    _, answer = call(client, SUBMIT, body)
    assert action_of(SUBMIT, answer)[1]["message"] == "Veuillez saisir un code postal valide."


def test_validation_error_at_start_becomes_block_page(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    status, body = call(client, START, event(START, typed_attributes(givenName=value("R2D2"))))
    assert status == 200
    assert action_of(START, body) == (
        "showBlockPage",
        {
            "@odata.type": "microsoft.graph.attributeCollectionStart.showBlockPage",
            "message": "Letters only, please.",
        },
    )
    log = capfd.readouterr().err
    assert '"action":"ShowBlockPage"' in log and '"contract":"authentication_extension"' in log


@pytest.mark.parametrize("url", [START, SUBMIT])
def test_denied_domain_blocks(client: FlaskClient, url: str) -> None:
    _, body = call(client, url, event(url, email="x@sub.mailinator.com"))
    name, action = action_of(url, body)
    assert (name, action["message"]) == (
        "showBlockPage",
        "Sign-up with this email address is not allowed.",
    )


@pytest.mark.parametrize("url", [START, SUBMIT])
def test_denied_identity_provider_blocks(client: FlaskClient, url: str) -> None:
    identities = [{"signInType": "federated", "issuer": "facebook.com", "issuerAssignedId": "1"}]
    attrs = typed_attributes(email=value("ada@contoso.com"))
    _, body = call(client, url, event(url, attrs, identities=identities))
    assert action_of(url, body)[0] == "showBlockPage"


def test_email_attribute_is_used_when_present(client: FlaskClient) -> None:
    attrs = typed_attributes(email=value("x@mailinator.com"))
    _, body = call(client, START, event(START, attrs, identities=[]))
    assert action_of(START, body)[0] == "showBlockPage"


def test_replay_gives_the_same_answer(client: FlaskClient) -> None:
    body = event(SUBMIT, email="grace@fabrikam.com")
    assert call(client, SUBMIT, body) == call(client, SUBMIT, body)


@pytest.mark.parametrize("url", [START, SUBMIT])
def test_store_failure_answers_try_again_where_allowed(
    app: Flask, client: FlaskClient, url: str
) -> None:
    from app.errors import StoreError

    def broken(*args: object) -> None:
        raise StoreError("database is down")

    app.extensions["connector"].invitations = broken
    _, body = call(client, url, event(url))
    name, action = action_of(url, body)
    expected = "showValidationError" if url == SUBMIT else "showBlockPage"
    assert name == expected
    assert action["message"] == "Something went wrong. Please try again in a moment."
    if url == SUBMIT:
        assert action["attributeErrors"] == {}


# The answers match the OpenAPI description (a small JSON Schema subset, checked here).

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    if "const" in schema and value != schema["const"]:
        return False
    if "oneOf" in schema:
        return sum(conforms(value, s) for s in schema["oneOf"]) == 1
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        ok = any(
            (k == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (k in _TYPES and isinstance(value, _TYPES[k]))
            for k in kinds
        )
        if not ok:
            return False
    if isinstance(value, dict):
        if not set(schema.get("required", ())) <= set(value):
            return False
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key, extra)
            if sub is False or (isinstance(sub, dict) and not conforms(item, sub)):
                return False
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        return all(conforms(item, schema.get("items", {})) for item in value)
    return True


@pytest.mark.parametrize(
    ("url", "body", "action"),
    [
        (START, lambda: event(START), "continueWithDefaultBehavior"),
        (START, lambda: event(START, email="g@fabrikam.com"), "setPrefillValues"),
        (START, lambda: event(START, email="x@mailinator.com"), "showBlockPage"),
        (SUBMIT, lambda: event(SUBMIT), "continueWithDefaultBehavior"),
        (SUBMIT, lambda: event(SUBMIT, email="g@fabrikam.com"), "modifyAttributeValues"),
        (
            SUBMIT,
            lambda: event(SUBMIT, typed_attributes(postalCode=value("1"))),
            "showValidationError",
        ),
        (SUBMIT, lambda: event(SUBMIT, email="x@mailinator.com"), "showBlockPage"),
    ],
)
def test_answers_match_the_openapi_description(
    client: FlaskClient, url: str, body: Any, action: str
) -> None:
    from app.web.openapi import document

    status, answer = call(client, url, body())
    assert status == 200
    assert action_of(url, answer)[0] == action
    schema = document()["paths"][url]["post"]["responses"]["200"]["content"]["application/json"]
    assert conforms(answer, schema["schema"])
    # ...and the checker is not a rubber stamp: the other event's envelope does not conform.
    other = START if url == SUBMIT else SUBMIT
    other_schema = document()["paths"][other]["post"]["responses"]["200"]["content"]
    assert not conforms(answer, other_schema["application/json"]["schema"])
