"""Invitation codes through the extension: errors point at the code's field, codes are blanked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.store.model import Store
from tests import tokens
from tests.conftest import build_config
from tests.store_support import KEY, add_invite
from tests.test_extension import START, SUBMIT, action_of, call, event, ext, value

RULES = "[rules.invitations]\nrequired = true\n"
CODE_FIELD = ext("InvitationCode")


@pytest.fixture
def app_store(tmp_path: Path) -> Iterator[tuple[FlaskClient, Store]]:
    jwks = tokens.write_jwks(tmp_path / "keys.json")
    env = {"CONNECTOR_INVITE_KEY": KEY, "CONNECTOR_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    app = create_app(build_config(tokens.config_toml(jwks, RULES), env), TESTING=True)
    store = app.extensions["connector"].store
    yield app.test_client(), store
    store.close()


def signup(url: str, code: str | None, email: str = "ada@contoso.com") -> dict[str, Any]:
    attrs = {"givenName": value("Ada")}
    if code is not None:
        attrs[CODE_FIELD] = value(code)
    return event(url, attrs, email=email)


def test_valid_code_continues_with_granted_claims_and_blanked_code(
    app_store: tuple[FlaskClient, Store],
) -> None:
    client, store = app_store
    _, code = add_invite(store, claims={"Role": "teacher"})
    status, body = call(client, SUBMIT, signup(SUBMIT, code))
    assert status == 200
    name, action = action_of(SUBMIT, body)
    assert name == "modifyAttributeValues"
    assert action["attributes"] == {CODE_FIELD: "", ext("Role"): "teacher"}
    # Entra retries once: the same sign-up again is the same answer and uses no second use.
    assert call(client, SUBMIT, signup(SUBMIT, code)) == (status, body)
    assert store.list_invites()[0].uses == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (None, "An invitation code is required to sign up."),
        ("NOT-A-REAL-CODE-AT-ALL", "The invitation code is not valid."),
    ],
)
def test_bad_code_is_a_validation_error_on_its_field(
    app_store: tuple[FlaskClient, Store], code: str | None, message: str
) -> None:
    client, _ = app_store
    _, body = call(client, SUBMIT, signup(SUBMIT, code))
    name, action = action_of(SUBMIT, body)
    assert name == "showValidationError"
    assert action["message"] == message
    assert action["attributeErrors"] == {CODE_FIELD: message}


def test_invitations_are_not_checked_at_start(app_store: tuple[FlaskClient, Store]) -> None:
    client, _ = app_store
    _, body = call(client, START, signup(START, None))
    assert action_of(START, body)[0] == "continueWithDefaultBehavior"
