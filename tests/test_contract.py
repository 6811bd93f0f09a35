"""The API connector contract as a matrix: every step x every action x both spellings."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import basic

STEP_URLS = {
    "post-federation-signup": "/api/connector/post-federation-signup",
    "post-attribute-collection": "/api/connector/post-attribute-collection",
    "pre-token-issuance": "/api/connector/pre-token-issuance",
}
# B2C spellings of each step, sent to /api/connector in the body.
B2C_STEPS = {
    "post-federation-signup": ["PostFederationSignup", "postfederationsignup"],
    "post-attribute-collection": ["PostAttributeCollection"],
    "pre-token-issuance": ["PreTokenIssuance", "PreTokenApplicationClaims"],
}
GOOD = {
    "email": "ada@contoso.com",
    "postalCode": "75001",
    "ui_locales": "en-US",
    "identities": [{"signInType": "federated", "issuer": "google.com", "issuerAssignedId": "123"}],
}
BAD_ATTRIBUTE = {**GOOD, "postalCode": "7500"}
DENIED_DOMAIN = {**GOOD, "email": "x@sub.mailinator.com"}


def _requests() -> list[Any]:
    cases = []
    for step, url in STEP_URLS.items():
        cases.append(pytest.param(url, {}, step, id=f"url-{step}"))
        for spelling in B2C_STEPS[step]:
            cases.append(
                pytest.param(
                    "/api/connector",
                    {"step": spelling, "client_id": "app"},
                    step,
                    id=f"body-{spelling}",
                )
            )
    return cases


def expected_continue_status(step: str) -> int:
    return 200


@pytest.mark.parametrize(("url", "extra", "step"), _requests())
def test_continue_at_every_step(
    client: FlaskClient, url: str, extra: dict[str, Any], step: str
) -> None:
    r = client.post(url, json={**GOOD, **extra}, headers=basic())
    assert r.status_code == 200
    body = r.get_json()
    assert body["version"] == "1.0.0"
    assert body["action"] == "Continue"
    # Enrichment is configured for two steps only; custom claims carry the prefix.
    if step in ("post-attribute-collection", "pre-token-issuance"):
        assert body["extension_Tier"] == "standard"
    else:
        assert "extension_Tier" not in body
    assert r.content_type == "application/json"


@pytest.mark.parametrize(("url", "extra", "step"), _requests())
def test_block_at_every_step(
    client: FlaskClient, url: str, extra: dict[str, Any], step: str
) -> None:
    r = client.post(url, json={**DENIED_DOMAIN, **extra}, headers=basic())
    assert r.status_code == 200
    assert r.get_json() == {
        "version": "1.0.0",
        "action": "ShowBlockPage",
        "userMessage": "Sign-up with this email address is not allowed.",
    }


@pytest.mark.parametrize(("url", "extra", "step"), _requests())
def test_validation_error_only_where_the_step_allows_it(
    client: FlaskClient, url: str, extra: dict[str, Any], step: str
) -> None:
    # Attribute rules run at post-attribute-collection by default; make them apply
    # everywhere by sending the bad value to every step and checking the answer's shape.
    r = client.post(url, json={**BAD_ATTRIBUTE, **extra}, headers=basic())
    body = r.get_json()
    if step == "post-attribute-collection":
        assert r.status_code == 400
        assert body == {
            "version": "1.0.0",
            "status": 400,
            "action": "ValidationError",
            "userMessage": "Please enter a valid postal code.",
        }
    else:
        # The rule does not apply at this step, so the sign-up continues.
        assert (r.status_code, body["action"]) == (200, "Continue")


def test_validation_error_converted_to_block_where_forbidden(make_config: Any) -> None:
    from app import create_app

    cfg = make_config(
        "environment='development'\n[auth]\nmethods=['none']\n"
        "[[rules.attributes]]\nname='postalCode'\nrequired=true\nsteps=[]\n"
        "message='Postal code needed.'\n"
    )
    client = create_app(cfg).test_client()
    for url in (
        "/api/connector/post-federation-signup",
        "/api/connector/pre-token-issuance",
        "/api/connector",
    ):
        r = client.post(url, json={"email": "a@b.example"})
        assert r.status_code == 200, url
        assert r.get_json() == {
            "version": "1.0.0",
            "action": "ShowBlockPage",
            "userMessage": "Postal code needed.",
        }
    r = client.post("/api/connector/post-attribute-collection", json={"email": "a@b.example"})
    assert (r.status_code, r.get_json()["action"]) == (400, "ValidationError")


def test_unknown_body_step_blocks_instead_of_validation_error(client: FlaskClient) -> None:
    r = client.post(
        "/api/connector", json={**BAD_ATTRIBUTE, "step": "SomethingNew"}, headers=basic()
    )
    assert r.status_code == 200
    assert r.get_json()["action"] == "ShowBlockPage"
    assert r.get_json()["userMessage"] == "Please enter a valid postal code."


def test_no_step_at_all_is_unknown_and_runs_every_rule(client: FlaskClient) -> None:
    r = client.post("/api/connector", json=BAD_ATTRIBUTE, headers=basic())
    assert (r.status_code, r.get_json()["action"]) == (200, "ShowBlockPage")


def test_body_step_contradicting_url_blocks(client: FlaskClient) -> None:
    r = client.post(
        STEP_URLS["post-attribute-collection"],
        json={**GOOD, "step": "PreTokenIssuance"},
        headers=basic(),
    )
    assert (r.status_code, r.get_json()["action"]) == (200, "ShowBlockPage")


@pytest.mark.parametrize("spelling", ["surname", "lastName"])
def test_surname_and_last_name_are_one_claim(make_config: Any, spelling: str) -> None:
    from app import create_app

    cfg = make_config(
        "environment='development'\n[auth]\nmethods=['none']\n"
        "[[rules.attributes]]\nname='lastName'\nrequired=true\nmin_length=2\n"
    )
    client = create_app(cfg).test_client()
    url = STEP_URLS["post-attribute-collection"]
    assert client.post(url, json={spelling: "Lovelace"}).get_json()["action"] == "Continue"
    r = client.post(url, json={spelling: "L"})
    assert r.get_json()["action"] == "ValidationError"


@pytest.mark.parametrize("issuer", ["facebook.com", "facebook", "FACEBOOK.COM"])
def test_both_issuer_spellings(client: FlaskClient, issuer: str) -> None:
    body = {
        **GOOD,
        "identities": [{"signInType": "federated", "issuer": issuer, "issuerAssignedId": "1"}],
    }
    r = client.post(STEP_URLS["post-federation-signup"], json=body, headers=basic())
    assert r.get_json()["action"] == "ShowBlockPage"
    assert r.get_json()["userMessage"] == "Sign-up with this account provider is not allowed."


@pytest.mark.parametrize("key", ["client_id", "clientId"])
def test_both_client_id_spellings(key: str) -> None:
    from app.contract.parse import parse_connector

    req = parse_connector(b'{"%s": "app-1", "step": "PreTokenIssuance"}' % key.encode(), None)
    assert req.client_id == "app-1"


@pytest.mark.parametrize(
    "name", ["extension_0123456789abcdef0123456789abcdef_Role", "extension_Role"]
)
def test_custom_attributes_matched_by_short_name(client: FlaskClient, name: str) -> None:
    url = STEP_URLS["post-attribute-collection"]
    ok = client.post(url, json={**GOOD, name: "teacher"}, headers=basic())
    assert ok.get_json()["action"] == "Continue"
    bad = client.post(url, json={**GOOD, name: "janitor"}, headers=basic())
    assert bad.get_json()["action"] == "ValidationError"


@pytest.mark.parametrize(
    ("app_id", "expected"),
    [
        ("", "extension_Tier"),
        ("01234567-89ab-cdef-0123-456789abcdef", "extension_0123456789abcdef0123456789abcdef_Tier"),
    ],
)
def test_returned_custom_attributes_use_configured_prefix(
    make_config: Any, app_id: str, expected: str
) -> None:
    from app import create_app

    cfg = make_config(
        f"environment='development'\nextensions_app_id='{app_id}'\n"
        "[auth]\nmethods=['none']\n[[rules.claims]]\nname='Tier'\nvalue='gold'\n"
        "[[rules.claims]]\nname='jobTitle'\nvalue='Engineer'\n"
    )
    body = (
        create_app(cfg)
        .test_client()
        .post(STEP_URLS["post-attribute-collection"], json={"email": "a@b.example"})
        .get_json()
    )
    assert body == {
        "version": "1.0.0",
        "action": "Continue",
        expected: "gold",
        "jobTitle": "Engineer",
    }


def test_version_is_configurable(make_config: Any) -> None:
    from app import create_app

    cfg = make_config("environment='development'\nversion='1.0.1'\n[auth]\nmethods=['none']\n")
    body = (
        create_app(cfg).test_client().post(STEP_URLS["post-federation-signup"], json={}).get_json()
    )
    assert body["version"] == "1.0.1"


def test_claim_set_only_when_absent_unless_override(make_config: Any) -> None:
    from app import create_app

    cfg = make_config(
        "environment='development'\n[auth]\nmethods=['none']\n"
        "[[rules.claims]]\nname='jobTitle'\nvalue='Guest'\noverride=false\n"
    )
    client = create_app(cfg).test_client()
    url = STEP_URLS["post-attribute-collection"]
    assert client.post(url, json={}).get_json().get("jobTitle") == "Guest"
    assert "jobTitle" not in client.post(url, json={"jobTitle": "CTO"}).get_json()


def test_first_failure_decides_and_is_logged(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    # Denied domain AND bad attribute: the domain rule comes first.
    body = {**BAD_ATTRIBUTE, "email": "x@mailinator.com"}
    r = client.post(STEP_URLS["post-attribute-collection"], json=body, headers=basic())
    assert r.get_json()["action"] == "ShowBlockPage"
    assert '"rule":"email_domains.deny"' in capfd.readouterr().err


def test_claim_name_memo_matches_the_normaliser_and_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.contract import model

    monkeypatch.setattr(model, "_SHORT_NAMES", {})
    monkeypatch.setattr(model, "_SHORT_NAMES_LIMIT", 5)
    names = [f"extension_{'ab' * 16}_Field{i}" for i in range(12)] + ["extension_Role"]
    for name in names * 2:
        assert model.short_claim_name(name) == model.normalise_claim_name(name)
    assert len(model._SHORT_NAMES) == 5
    long_name = "extension_" + "x" * 200
    assert model.short_claim_name(long_name) == "x" * 200
    assert long_name not in model._SHORT_NAMES
