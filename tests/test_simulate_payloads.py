"""Request builders produce Entra's bodies per step and contract; steps resolve from URL/options."""

from __future__ import annotations

import pytest

from app.errors import ToolError
from app.simulate import payloads, steps
from app.simulate.payloads import Profile

APP_ID = "b2c0ffee-5e1f-4d2b-9d4a-2c5e7f8a9b10"


def claims(step: str | None, variant: str = "full", **profile: object) -> dict[str, object]:
    return payloads.connector_claims(step, Profile(**profile), variant)  # type: ignore[arg-type]


def test_federation_step_sends_last_name_and_no_attributes() -> None:
    body = claims(steps.FEDERATION)
    assert body["lastName"] == "Lovelace" and "surname" not in body
    assert body["identities"] == [
        {
            "signInType": "federated",
            "issuer": "google.com",
            "issuerAssignedId": "109876543210987654321",
        }
    ]
    assert {"email", "displayName", "givenName", "ui_locales"} <= body.keys()
    assert "postalCode" not in body and "step" not in body and "client_id" not in body


def test_attribute_step_sends_surname_and_custom_attributes_with_app_id_without_dashes() -> None:
    body = claims(steps.ATTRIBUTES, extensions_app_id=APP_ID)
    assert body["surname"] == "Lovelace" and "lastName" not in body
    custom = "extension_b2c0ffee5e1f4d2b9d4a2c5e7f8a9b10_CustomAttribute1"
    assert body[custom] == "custom attribute value"
    assert {"jobTitle", "streetAddress", "city", "postalCode", "state", "country"} <= body.keys()
    assert "objectId" not in body


def test_token_step_carries_object_id() -> None:
    assert claims(steps.TOKEN)["objectId"] == payloads.DEFAULT_OBJECT_ID


@pytest.mark.parametrize(
    ("step", "name"),
    [
        (steps.FEDERATION, "PostFederationSignup"),
        (steps.ATTRIBUTES, "PostAttributeCollection"),
        (steps.TOKEN, "PreTokenIssuance"),
    ],
)
def test_b2c_bodies_carry_step_and_client_id(step: str, name: str) -> None:
    body = claims(step, b2c=True, client_id="app-1")
    assert body["step"] == name and body["client_id"] == "app-1"


def test_b2c_aliases_use_the_other_spellings() -> None:
    body = claims(steps.TOKEN, "b2c-aliases", b2c=True)
    assert body["step"] == "PreTokenApplicationClaims" and "clientId" in body
    assert "client_id" not in body
    assert body["identities"][0]["issuer"] == "google"  # type: ignore[index]


def test_variants_leave_out_or_swap_claims() -> None:
    minimal = claims(steps.ATTRIBUTES, "minimal")
    assert minimal == {"email": Profile.email, "ui_locales": "en-US"}
    only = claims(steps.ATTRIBUTES, "identities-only")
    assert "email" not in only and "identities" in only
    swapped = claims(steps.ATTRIBUTES, "other-surname")
    assert "lastName" in swapped and "surname" not in swapped
    typed = claims(steps.ATTRIBUTES, "custom-attributes")
    assert typed[f"extension_{payloads.DEFAULT_EXTENSIONS_APP_ID}_Newsletter"] is True
    assert typed[f"extension_{payloads.DEFAULT_EXTENSIONS_APP_ID}_LoyaltyNumber"] == 1234567
    assert "newClaimFromEntra" in claims(steps.ATTRIBUTES, "unknown-claims")


def test_user_claims_override_and_locale_applies() -> None:
    body = claims(
        steps.ATTRIBUTES, claims=(("postalCode", "ABC"), ("isAdult", True)), locale="fr-FR"
    )
    assert body["postalCode"] == "ABC" and body["isAdult"] is True and body["ui_locales"] == "fr-FR"


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ToolError, match=r"expected a request variant in .*got 'huge'"):
        claims(steps.ATTRIBUTES, "huge")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postalCode=12345", ("postalCode", "12345")),
        ("city=", ("city", "")),
        ("note=a=b", ("note", "a=b")),
        ("isAdult:=true", ("isAdult", True)),
        ("age:=42", ("age", 42)),
        ('nick:="x"', ("nick", "x")),
    ],
)
def test_parse_claim(text: str, expected: tuple[str, object]) -> None:
    assert payloads.parse_claim(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("postalCode", "NAME=VALUE"),
        ("=x", "NAME=VALUE"),
        (":=1", "NAME=VALUE"),
        ("age:=forty", "expected a JSON value"),
    ],
)
def test_parse_claim_rejects(text: str, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        payloads.parse_claim(text)


def test_extension_submit_event_shape() -> None:
    event = payloads.extension_event(
        steps.SUBMIT, Profile(email="ada@contoso.example", locale="fr-FR")
    )
    assert event["type"] == "microsoft.graph.authenticationEvent.attributeCollectionSubmit"
    data = event["data"]
    assert isinstance(data, dict)
    assert data["@odata.type"] == "microsoft.graph.onAttributeCollectionSubmitCalloutData"
    assert data["authenticationContext"]["client"]["locale"] == "fr-fr"
    info = data["userSignUpInfo"]
    assert info["identities"] == [
        {
            "signInType": "email",
            "issuer": "contoso.onmicrosoft.com",
            "issuerAssignedId": "ada@contoso.example",
        }
    ]
    assert info["attributes"]["postalCode"] == {
        "@odata.type": "microsoft.graph.stringDirectoryAttributeValue",
        "value": "98052",
        "attributeType": "builtIn",
    }
    typed = payloads.extension_event(steps.START, Profile(), "custom-attributes")
    attrs = typed["data"]["userSignUpInfo"]["attributes"]  # type: ignore[index]
    flag = attrs[f"extension_{payloads.DEFAULT_EXTENSIONS_APP_ID}_Newsletter"]
    assert flag["@odata.type"] == "microsoft.graph.booleanDirectoryAttributeValue"
    assert flag["attributeType"] == "directorySchemaExtension"
    assert typed["type"] == "microsoft.graph.authenticationEvent.attributeCollectionStart"


@pytest.mark.parametrize(
    ("step", "contract", "url", "expected"),
    [
        (
            None,
            None,
            "https://h/api/connector/post-attribute-collection",
            (steps.ATTRIBUTES, steps.API_CONNECTOR),
        ),
        (None, None, "https://h/api/connector", (None, steps.API_CONNECTOR)),
        (
            None,
            None,
            "https://h/x/attribute-collection-start/",
            (steps.START, steps.AUTH_EXTENSION),
        ),
        (steps.TOKEN, None, "https://h/api/validate?code=k", (steps.TOKEN, steps.API_CONNECTOR)),
        (
            steps.FEDERATION,
            steps.AUTH_EXTENSION,
            "https://h/f",
            (steps.START, steps.AUTH_EXTENSION),
        ),
        (None, steps.AUTH_EXTENSION, "https://h/f", (None, steps.AUTH_EXTENSION)),
    ],
)
def test_resolve_step_and_contract(
    step: str | None, contract: str | None, url: str, expected: tuple[str | None, str]
) -> None:
    assert steps.resolve(step, contract, url) == expected


@pytest.mark.parametrize(
    ("step", "contract", "why"),
    [
        (steps.TOKEN, steps.AUTH_EXTENSION, "has no pre-token-issuance event"),
        (steps.SUBMIT, steps.API_CONNECTOR, "belongs to the authentication-extension contract"),
    ],
)
def test_resolve_rejects_mismatches(step: str, contract: str, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        steps.resolve(step, contract, "https://h/x")
