"""The authenticator: which failure becomes 401 (challenge) and which 403 (certificate)."""

from __future__ import annotations

from typing import Any

import pytest

from app import create_app
from tests.support import BASIC_TOML, basic

URL = "/api/connector/post-federation-signup"
CERT_ONLY = (
    "[auth]\nmethods = ['certificate']\n[auth.certificate]\nthumbprints = ['" + "a" * 40 + "']\n"
)
BASIC_AND_CERT = BASIC_TOML.replace('methods = ["basic"]', 'methods = ["basic", "certificate"]') + (
    "[auth.certificate]\nthumbprints = ['" + "a" * 40 + "']\n"
)


@pytest.mark.parametrize(
    ("toml", "status", "reason"),
    [
        (CERT_ONLY, 403, "no certificate presented"),
        (BASIC_AND_CERT, 401, r"no credentials presented \(no client certificate"),
    ],
)
def test_nothing_presented(
    make_config: Any, capfd: pytest.CaptureFixture[str], toml: str, status: int, reason: str
) -> None:
    client = create_app(make_config(toml)).test_client()
    r = client.post(URL, json={"email": "a@contoso.com"})
    assert r.status_code == status
    assert ("WWW-Authenticate" in r.headers) is (status == 401)
    import re

    assert re.search(reason, capfd.readouterr().err)


def test_either_method_admits(make_config: Any) -> None:
    client = create_app(make_config(BASIC_AND_CERT)).test_client()
    assert client.post(URL, json={"email": "a@contoso.com"}, headers=basic()).status_code == 200
    r = client.post(URL, json={"email": "a@contoso.com"}, headers=basic(password="wrong"))
    assert r.status_code == 401
