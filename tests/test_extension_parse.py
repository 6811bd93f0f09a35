"""Parsing extension requests, and unusable ones answered with a block page, never 500."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.contract.extension import ExtensionRequest, parse_extension
from app.contract.model import Identity, Step
from app.errors import RequestError
from tests import tokens
from tests.conftest import build_config
from tests.test_extension import START, SUBMIT, event, ext, typed_attributes, value

SUBMIT_BLOCK = "microsoft.graph.attributeCollectionSubmit.showBlockPage"


def parse(body: Any, step: Step | None = Step.ATTRIBUTE_COLLECTION_SUBMIT) -> ExtensionRequest:
    return parse_extension(json.dumps(body).encode(), step)


def test_maps_onto_the_rules_request() -> None:
    body = event(SUBMIT, locale="fr-ca")
    body["data"]["userSignUpInfo"]["identities"].append(
        {"signInType": "federated", "issuer": "google.com", "issuerAssignedId": "g-1"}
    )
    request = parse(body)
    assert request.step is Step.ATTRIBUTE_COLLECTION_SUBMIT
    assert (request.email, request.email_domain) == ("ada@contoso.com", "contoso.com")
    assert request.locale == "fr-ca"
    assert request.client_id == "11111111-2222-3333-4444-555555555555"
    assert request.identity_provider == "google"
    assert request.identities[0] == Identity("email", "contoso.onmicrosoft.com", "ada@contoso.com")
    assert dict(request.attributes) == {
        "givenName": "Ada",
        "city": "Seattle",
        "postalCode": "98052",
        "Role": "student",
        "Tier": "basic",
        "OnMailingList": False,
        "GraduationYear": 2010,
        "email": "ada@contoso.com",  # from the email identity
    }
    assert request.custom == {"Role", "Tier", "OnMailingList", "GraduationYear"}
    assert request.attribute_types["OnMailingList"] == "boolean"
    assert request.attribute_types["GraduationYear"] == "int64"
    assert request.attribute_types["city"] == "string"
    assert request.names["Role"] == ext("Role")


def test_start_event_with_unset_attributes() -> None:
    attrs = {"givenName": value(None), ext("Flag"): value(None, "boolean")}
    request = parse(event(START, attrs), Step.ATTRIBUTE_COLLECTION_START)
    assert request.step is Step.ATTRIBUTE_COLLECTION_START
    assert "givenName" not in request.attributes and "Flag" not in request.attributes
    assert request.attribute_types["Flag"] == "boolean"  # still typed for prefill answers


def test_multi_valued_and_odd_spellings() -> None:
    attrs = {
        ext("Groups"): {
            "@odata.Type": "microsoft.graph.stringDirectoryAttributeValue",
            "value": ["Alumni", "Faculty"],
        },
        ext("Count"): {"value": 3},  # no @odata.type: inferred from the JSON value
        ext("Since"): value("2020-01-01", "dateTime"),  # unknown kinds are strings
    }
    request = parse(event(SUBMIT, attrs))
    assert request.attributes["Groups"] == "Alumni,Faculty"
    assert request.attribute_types["Groups"] == "string"
    assert request.attribute_types["Count"] == "int64"
    assert request.attribute_types["Since"] == "string"


def test_unknown_attribute_in_an_unknown_shape_is_ignored() -> None:
    attrs = typed_attributes(newClaimFromEntra={"value": {"nested": ["value"]}}, n={"value": 1.5})
    request = parse(event(SUBMIT, attrs))
    assert "newClaimFromEntra" not in request.attributes and "n" not in request.attribute_types
    assert request.attributes["city"] == "Seattle"


def test_event_type_is_case_insensitive_and_url_optional() -> None:
    body = event(SUBMIT)
    body["type"] = "microsoft.graph.authenticationEvent.AttributeCollectionSubmit"
    assert parse(body, None).step is Step.ATTRIBUTE_COLLECTION_SUBMIT


def _with(path: str, new: Any) -> bytes:
    """The submit event with one member replaced (path like 'data.userSignUpInfo.attributes')."""
    body = event(SUBMIT)
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[key]
    if new is KeyError:
        del node[last]
    else:
        node[last] = new
    return json.dumps(body).encode()


BAD: list[tuple[str, bytes, str]] = [
    ("not-json", b"{not json", "not JSON"),
    ("array", b"[]", "expected a JSON object, got list"),
    ("no-type", _with("type", KeyError), 'expected "type"'),
    ("type-number", _with("type", 5), "body.type: expected a string"),
    (
        "other-event",
        _with("type", "microsoft.graph.authenticationEvent.tokenIssuanceStart"),
        "expected an attributeCollectionStart or attributeCollectionSubmit event",
    ),
    (
        "start-at-submit-url",
        _with("type", "microsoft.graph.authenticationEvent.attributeCollectionStart"),
        "contradicts the URL's step",
    ),
    ("no-data", _with("data", KeyError), "data: expected an object, got NoneType"),
    ("data-list", _with("data", []), "data: expected an object, got list"),
    (
        "attributes-list",
        _with("data.userSignUpInfo.attributes", []),
        "attributes: expected an object",
    ),
    (
        "attribute-scalar",
        _with("data.userSignUpInfo.attributes", {"city": "Paris"}),
        "attribute 'city': expected an object",
    ),
    (
        "value-object",
        _with("data.userSignUpInfo.attributes", {"city": {"value": {"a": 1}}}),
        "expected a string, boolean or integer value, got dict",
    ),
    (
        "custom-value-float",
        _with("data.userSignUpInfo.attributes", {ext("N"): {"value": 1.5}}),
        "got float",
    ),
    (
        "custom-value-list-of-numbers",
        _with("data.userSignUpInfo.attributes", {ext("N"): {"value": [1, 2]}}),
        "got list",
    ),
    (
        "surrogate",
        _with("data.userSignUpInfo.attributes", {"city": {"value": "\ud800"}}),
        "unpaired surrogate",
    ),
    (
        "identities-string",
        _with("data.userSignUpInfo.identities", "x"),
        "identities: expected an array",
    ),
    (
        "identity-number",
        _with("data.userSignUpInfo.identities", [1]),
        r"identities\[\]: expected an object",
    ),
    (
        "too-many-identities",
        _with("data.userSignUpInfo.identities", [{}] * 21),
        "at most 20",
    ),
    (
        "too-many-attributes",
        _with("data.userSignUpInfo.attributes", {f"a{i}": {"value": "x"} for i in range(201)}),
        "at most 200",
    ),
    ("locale-number", _with("data.authenticationContext.client.locale", 5), "client.locale"),
    (
        "bad-email",
        _with("data.userSignUpInfo.identities", [{"signInType": "email", "issuerAssignedId": "x"}]),
        "no domain",
    ),
]


@pytest.mark.parametrize(("body", "reason"), [pytest.param(b, r, id=i) for i, b, r in BAD])
def test_parse_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(RequestError, match=reason):
        parse_extension(body, Step.ATTRIBUTE_COLLECTION_SUBMIT)


@pytest.fixture(scope="module")
def jwks_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tokens.write_jwks(tmp_path_factory.mktemp("jwks") / "keys.json")


@pytest.fixture
def app(jwks_path: Path) -> Flask:
    return create_app(build_config(tokens.config_toml(jwks_path)), TESTING=True)


@pytest.mark.parametrize(("body", "reason"), [pytest.param(b, r, id=i) for i, b, r in BAD])
def test_unusable_body_blocks_over_http(
    client: FlaskClient, capfd: pytest.CaptureFixture[str], body: bytes, reason: str
) -> None:
    r = client.post(
        SUBMIT, data=body, headers={**tokens.bearer(), "Content-Type": "application/json"}
    )
    assert r.status_code == 200
    data = r.get_json()["data"]
    assert data["@odata.type"] == "microsoft.graph.onAttributeCollectionSubmitResponseData"
    assert data["actions"] == [
        {
            "@odata.type": SUBMIT_BLOCK,
            "message": "Your sign-up could not be processed. Please contact support.",
        }
    ]
    [decision] = [e for e in _events(capfd) if e["event"] == "decision"]
    assert decision["rule"] == "request.invalid"
    assert re.search(reason, decision["reason"]), decision


def _events(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]


def test_wrong_content_type_blocks_in_the_start_shape(client: FlaskClient) -> None:
    r = client.post(
        START,
        data=json.dumps(event(START)),
        headers={**tokens.bearer(), "Content-Type": "text/plain"},
    )
    assert r.status_code == 200
    [action] = r.get_json()["data"]["actions"]
    assert action["@odata.type"] == "microsoft.graph.attributeCollectionStart.showBlockPage"


def test_too_large_is_413_with_a_block_page(client: FlaskClient) -> None:
    attrs = typed_attributes(city=value("x" * 70_000))
    r = client.post(SUBMIT, json=event(SUBMIT, attrs), headers=tokens.bearer())
    assert r.status_code == 413
    assert r.get_json()["data"]["actions"][0]["@odata.type"] == SUBMIT_BLOCK


@pytest.mark.parametrize("order", ["surname-first", "lastName-first"])
def test_surname_beats_last_name(order: str) -> None:
    pair = [("surname", value("Lovelace")), ("lastName", value("Byron"))]
    attrs = dict(pair if order == "surname-first" else pair[::-1])
    request = parse(event(SUBMIT, attrs))
    assert request.attributes["surname"] == "Lovelace"
    assert request.names["surname"] == "surname"


@pytest.mark.parametrize(
    ("given", "kind", "expected"),
    [
        ("true", "boolean", True),
        (" FALSE ", "boolean", False),
        (1, "boolean", None),
        ("yes", "boolean", None),
        ("2011", "int64", 2011),
        ("-5", "int64", -5),
        (True, "int64", None),
        ("12a", "int64", None),
        (str(2**63), "int64", None),
        (2**63 - 1, "int64", 2**63 - 1),
        (12, "string", "12"),
        (False, "string", "false"),
        ("x", None, "x"),
    ],
)
def test_values_take_the_declared_type(given: Any, kind: str | None, expected: Any) -> None:
    from app.contract.extension import _coerce

    result = _coerce(given, kind)
    assert result == expected and type(result) is type(expected)
