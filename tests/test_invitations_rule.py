"""The invitation rule through the app (Flask test client), on both stores."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.config import Config, parse_config
from app.store.model import Store
from tests.store_support import BACKENDS, KEY, add_invite, database
from tests.support import BASIC_TOML, PASSWORD, basic

SUBMIT = "/api/connector/post-attribute-collection"
ENV = {"TEST_BASIC_PASSWORD": PASSWORD, "CONNECTOR_INVITE_KEY": KEY}
RULE = "[rules.invitations]\nrequired = true\n"


class Harness:
    def __init__(self, url: str) -> None:
        self.url = url

    def config(self, extra: str = RULE) -> Config:
        env = {**ENV, "CONNECTOR_STORE_URL": self.url}
        return parse_config(tomllib.loads(BASIC_TOML + extra), "test.toml", env)

    def client(self, extra: str = RULE) -> tuple[FlaskClient, Store]:
        app = create_app(self.config(extra), TESTING=True)
        return app.test_client(), app.extensions["connector"].store

    def post(
        self, client: FlaskClient, body: dict[str, Any], url: str = SUBMIT
    ) -> tuple[int, dict[str, Any]]:
        resp = client.post(url, json={"ui_locales": "en-US", **body}, headers=basic())
        return resp.status_code, resp.get_json()


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with database(request.param, tmp_path) as url:
        yield Harness(url)


@pytest.fixture
def app_client(harness: Harness) -> Iterator[tuple[FlaskClient, Store]]:
    client, store = harness.client()
    yield client, store
    store.close()


def signup(code: Any, email: str = "ada@contoso.com") -> dict[str, Any]:
    return {"email": email, "extension_InvitationCode": code}


def test_redeem_returns_claims_and_blanks_the_code(
    harness: Harness, app_client: tuple[FlaskClient, Store]
) -> None:
    client, store = app_client
    _, code = add_invite(store, claims={"Role": "teacher", "Verified": True})
    status, body = harness.post(client, signup(code.lower().replace("-", " ")))
    assert status == 200, body
    assert body == {
        "version": "1.0.0",
        "action": "Continue",
        "extension_Role": "teacher",
        "extension_Verified": True,
        "extension_InvitationCode": "",
    }
    # Entra's retry of the same sign-up: same answer, no second use.
    assert harness.post(client, signup(code)) == (status, body)
    assert store.list_invites()[0].uses == 1
    status, body = harness.post(client, signup(code, "bob@contoso.com"))
    assert (status, body["action"]) == (400, "ValidationError")
    assert body["userMessage"] == "The invitation code has already been used."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "An invitation code is required to sign up."),
        ("", "An invitation code is required to sign up."),
        ("   ", "An invitation code is required to sign up."),
        ("A" * 10_000, "The invitation code is not valid."),
        ("ÄBCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345", "The invitation code is not valid."),
        ("\u017f" * 28, "The invitation code is not valid."),
        ("' OR '1'='1", "The invitation code is not valid."),
        ("'; DROP TABLE invites; --", "The invitation code is not valid."),
        ("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-234U", "The invitation code is not valid."),
        ("0000-0000-0000-0000-0000-0000-0000", "The invitation code is not valid."),
        (12345, "The invitation code is not valid."),
        (True, "The invitation code is not valid."),
    ],
)
def test_bad_codes_are_validation_errors(
    harness: Harness, app_client: tuple[FlaskClient, Store], value: Any, message: str
) -> None:
    client, store = app_client
    invite_id, _ = add_invite(store)
    body = {"email": "ada@contoso.com"}
    if value is not None:
        body["extension_InvitationCode"] = value
    status, answer = harness.post(client, body)
    assert (status, answer["action"], answer["userMessage"]) == (400, "ValidationError", message)
    [row] = store.list_invites()  # the table survived, the real invite is untouched
    assert (row.id, row.uses) == (invite_id, 0)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "has expired"),
        ({"email": "someone@contoso.com"}, "issued for a different email address"),
        ({"domain": "fabrikam.com"}, "issued for a different email address"),
        ({"revoke": True}, "is no longer valid"),
    ],
)
def test_expired_bound_and_revoked(
    harness: Harness, app_client: tuple[FlaskClient, Store], setup: dict[str, Any], message: str
) -> None:
    client, store = app_client
    setup = dict(setup)  # the same table runs on both stores
    revoke = setup.pop("revoke", False)
    invite_id, code = add_invite(store, **setup)
    if revoke:
        store.revoke_invite(invite_id, datetime.now(UTC))
    status, body = harness.post(client, signup(code))
    assert status == 400 and message in body["userMessage"]


def test_email_binding_ignores_case(
    harness: Harness, app_client: tuple[FlaskClient, Store]
) -> None:
    client, store = app_client
    _, code = add_invite(store, email="ada@contoso.com")
    status, body = harness.post(client, signup(code, "Ada@Contoso.COM"))
    assert (status, body["action"]) == (200, "Continue")


def test_other_steps_and_optional_codes_do_not_touch_the_store(harness: Harness) -> None:
    client, store = harness.client("[rules.invitations]\nrequired = false\n")
    try:
        _, code = add_invite(store)
        federation = "/api/connector/post-federation-signup"
        status, body = harness.post(client, signup(code), federation)
        assert (status, body) == (200, {"version": "1.0.0", "action": "Continue"})
        status, body = harness.post(client, {"email": "ada@contoso.com"})
        assert (status, body) == (200, {"version": "1.0.0", "action": "Continue"})
        assert store.list_invites()[0].uses == 0
        # No step in the body: the step is unknown, every rule runs, and a bad code blocks
        # (ValidationError is not valid at every step).
        status, body = harness.post(client, signup("nope"), "/api/connector")
        assert (status, body["action"]) == (200, "ShowBlockPage")
        assert body["userMessage"] == "The invitation code is not valid."
    finally:
        store.close()


def test_clear_on_continue_false_keeps_the_code(harness: Harness) -> None:
    client, store = harness.client(RULE + "clear_on_continue = false\n")
    try:
        _, code = add_invite(store)
        status, body = harness.post(client, signup(code))
        assert (status, body) == (200, {"version": "1.0.0", "action": "Continue"})
    finally:
        store.close()


def test_readyz_reports_the_store(harness: Harness, app_client: tuple[FlaskClient, Store]) -> None:
    client, store = app_client
    resp = client.get("/readyz")
    assert resp.status_code == 200
    check = resp.get_json()["checks"]["store"]
    assert check["ok"] is True and check["in_use"] is True and check["schema_version"] == 1
    assert check["backend"] == store.backend


def test_readyz_with_the_rule_off_never_opens_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'never' / 'store.db'}"
    client, _ = Harness(url).client("")
    check = client.get("/readyz").get_json()["checks"]["store"]
    assert check == {"ok": True, "backend": "sqlite", "in_use": False}
    assert not (tmp_path / "never").exists()


def test_message_override_and_locale(harness: Harness) -> None:
    extra = RULE + 'message = { en = "Invitation problem.", fr = "Problème d\'invitation." }\n'
    client, store = harness.client(extra)
    try:
        status, body = harness.post(client, {**signup("nope"), "ui_locales": "fr-FR"})
        assert (status, body["userMessage"]) == (400, "Problème d'invitation.")
    finally:
        store.close()


def test_who_redeems_email_then_identity_then_nobody() -> None:
    from app.contract.model import Identity, SignupRequest, Step
    from app.rules.invitations import claimant

    step = Step.POST_ATTRIBUTE_COLLECTION
    by_email = claimant(SignupRequest(step, email="Ada@Contoso.COM"), KEY)
    assert (by_email.email, by_email.domain) == ("ada@contoso.com", "contoso.com")
    assert by_email == claimant(SignupRequest(step, email="ada@contoso.com"), KEY)
    google = (Identity("federated", "google", "1234"),)
    by_identity = claimant(SignupRequest(step, identities=google), KEY)
    assert by_identity.email is None and by_identity.redeemer != by_email.redeemer
    assert by_identity == claimant(SignupRequest(step, identities=google), KEY)
    # Nothing to recognise a retry by: every attempt is somebody new (and uses a use).
    nobody = SignupRequest(step)
    assert claimant(nobody, KEY).redeemer != claimant(nobody, KEY).redeemer
    # A malformed address binds nothing, but still does not crash the rule.
    assert claimant(SignupRequest(step, email="not-an-address"), KEY).email is None
