"""Authenticated but malformed requests: a blocking contract answer, never 500 or Continue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import basic

URL = "/api/connector/post-attribute-collection"
BLOCK = "ShowBlockPage"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'"text"', "expected a JSON object, got str"),
        (b"null", "expected a JSON object, got NoneType"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"email": "a@b.example", "x": NaN}', "NaN is not allowed"),
        (b'{"email": 5}', "claim 'email': expected a string, got int"),
        (b'{"email": ["a@b.example"]}', "claim 'email': expected a string, got list"),
        (b'{"postalCode": {"a": 1}}', "claim 'postalCode': expected a string, got dict"),
        (b'{"identities": "google"}', "claim 'identities'"),
        (b'{"identities": [1]}', "claim 'identities'"),
        (b'{"extension_Role": [1]}', "custom attribute 'extension_Role'"),
        (b'{"email": "no-at-sign"}', "no domain"),
        (b'{"email": "a@-bad-.com"}', "invalid domain"),
        (b'{"givenName": "\\ud800"}', "unpaired surrogate"),
        (b"[" * 5000 + b"]" * 5000, "expected a JSON object|nested too deeply"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested too deeply"),
        (b'{"n": 1' + b"0" * 5000 + b"}", "not JSON"),
    ],
)
def test_malformed_body_blocks(
    client: FlaskClient, capfd: pytest.CaptureFixture[str], body: bytes, reason: str
) -> None:
    r = client.post(URL, data=body, headers={**basic(), "Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.get_json()["action"] == BLOCK
    log = capfd.readouterr().err
    assert '"rule":"request.invalid"' in log
    import re

    assert re.search(reason, log), log


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
def test_wrong_content_type_blocks(client: FlaskClient, content_type: str) -> None:
    headers = {**basic()}
    if content_type:
        headers["Content-Type"] = content_type
    r = client.post(URL, data=b'{"email": "a@b.example"}', headers=headers)
    assert (r.status_code, r.get_json()["action"]) == (200, BLOCK)


def test_json_content_type_with_charset_is_fine(client: FlaskClient) -> None:
    r = client.post(
        URL,
        data=json.dumps({"email": "a@contoso.com", "postalCode": "12345"}),
        headers={**basic(), "Content-Type": "application/json; charset=utf-8"},
    )
    assert r.get_json()["action"] == "Continue"


def test_oversized_body_is_413_before_parsing(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    big = b'{"email": "a@contoso.com", "pad": "' + b"x" * 70_000 + b'"}'
    r = client.post(URL, data=big, headers={**basic(), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.get_json()["action"] == BLOCK
    assert "exceeds 65536" in capfd.readouterr().err


def test_oversized_body_without_credentials_is_401(client: FlaskClient) -> None:
    r = client.post(URL, data=b"x" * 100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def test_internal_error_fails_closed(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from app.rules.engine import RuleSet

    def boom(*args: Any) -> Any:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(RuleSet, "evaluate", boom)
    good = {"email": "a@contoso.com", "postalCode": "12345"}
    r = client.post(URL, json=good, headers=basic())
    assert r.status_code == 400
    assert r.get_json()["action"] == "ValidationError"
    assert "try again" in r.get_json()["userMessage"]
    r2 = client.post("/api/connector/pre-token-issuance", json=good, headers=basic())
    assert (r2.status_code, r2.get_json()["action"]) == (200, BLOCK)
    log = capfd.readouterr().err
    assert '"event":"internal.error"' in log and "ZeroDivisionError: bug" in log
    assert '"correlation_id"' in log


def test_get_and_unknown_paths_are_problem_json(client: FlaskClient) -> None:
    r = client.get(URL)
    assert r.status_code == 405
    assert r.content_type == "application/problem+json"
    r = client.post("/api/nothing", json={})
    assert r.status_code == 404


def test_replay_gives_same_answer(client: FlaskClient) -> None:
    body = {"email": "a@contoso.com", "postalCode": "1", "ui_locales": "fr-FR"}
    first = client.post(URL, json=body, headers=basic())
    second = client.post(URL, json=body, headers=basic())
    assert (first.status_code, first.get_json()) == (second.status_code, second.get_json())
