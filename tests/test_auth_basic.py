"""Basic auth (RFC 7617) edge cases: every rejection says why, in the log only."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.auth.basic import BasicAuth, parse_basic_header
from app.auth.passwords import hash_password
from app.config import Config
from app.errors import AuthenticationError
from tests.support import BASIC_TOML, PASSWORD, basic

URL = "/api/connector/post-federation-signup"
BODY = {"email": "ada@contoso.com"}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic " + b64(b"entra-without-any-colon"), "no colon"),
        ("Basic !!!notbase64", "not base64"),
        ("Basic " + b64(b"entra:\xff\xfe"), "not base64 of UTF-8"),
        ("Basic " + b64(b":" + PASSWORD.encode()), "empty user name or password"),
        ("Basic " + b64(b"entra:"), "empty user name or password"),
        ("Basic " + "A" * 10_000, "too long"),
        ("Basic " + b64(b"entra:wrong"), "does not match"),
        ("Basic " + b64(b"nobody:" + PASSWORD.encode()), "does not match"),
        ("Basic " + b64(PASSWORD.encode() + b":entra"), "does not match"),
        ("Basic", "not base64|no colon"),
        ("Basic " + b64(b"entra:" + PASSWORD.encode() + b" "), "does not match"),
    ],
)
def test_rejected_with_reason(
    client: FlaskClient, capfd: pytest.CaptureFixture[str], header: str, reason: str
) -> None:
    r = client.post(URL, json=BODY, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="api-connector", charset="UTF-8"'
    assert r.content_type == "application/problem+json"
    assert r.get_json() == {"type": "about:blank", "title": "Unauthorized", "status": 401}
    log = capfd.readouterr().err
    assert '"event":"auth.rejected"' in log
    import re

    assert re.search(reason, log), log
    assert PASSWORD not in log


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Digest username=entra"},
        {"Authorization": ""},
    ],
)
def test_no_basic_credentials_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    r = client.post(URL, json=BODY, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC", "bAsIc"])
def test_scheme_is_case_insensitive(client: FlaskClient, scheme: str) -> None:
    r = client.post(URL, json=BODY, headers=basic(scheme=scheme))
    assert (r.status_code, r.get_json()["action"]) == (200, "Continue")


def test_password_with_colons_split_at_first_colon_only() -> None:
    assert parse_basic_header("Basic " + b64(b"u:a:b::c")) == ("u", "a:b::c")


def test_utf8_credentials(make_config: Any) -> None:
    from app import create_app

    cfg = make_config(
        BASIC_TOML.replace("entra", "ünïcødé"), env={"TEST_BASIC_PASSWORD": "pässwörd-ß"}
    )
    client = create_app(cfg).test_client()
    ok = client.post(URL, json=BODY, headers=basic("ünïcødé", "pässwörd-ß"))
    assert ok.status_code == 200
    latin1 = "Basic " + b64("ünïcødé:pässwörd-ß".encode("latin-1"))
    assert client.post(URL, json=BODY, headers={"Authorization": latin1}).status_code == 401


ROTATION = """
environment = "production"
[auth]
methods = ["basic"]
[[auth.basic.credentials]]
username = "entra"
password_env = "OLD_PW"
[[auth.basic.credentials]]
username = "entra"
password_env = "NEW_PW"
[[auth.basic.credentials]]
username = "apim"
password_hash = "{hash}"
"""


@pytest.fixture(scope="module")
def hashed() -> str:
    return hash_password("apim-gateway-secret-1")


def test_several_credentials_for_rotation(make_config: Any, hashed: str) -> None:
    from app import create_app

    cfg = make_config(ROTATION.format(hash=hashed), env={"OLD_PW": "old-one", "NEW_PW": "new-one"})
    client = create_app(cfg).test_client()
    for user, pw in [("entra", "old-one"), ("entra", "new-one"), ("apim", "apim-gateway-secret-1")]:
        assert client.post(URL, json=BODY, headers=basic(user, pw)).status_code == 200, user
    for user, pw in [("entra", "apim-gateway-secret-1"), ("apim", "old-one"), ("x", "new-one")]:
        assert client.post(URL, json=BODY, headers=basic(user, pw)).status_code == 401, user


def test_slow_hash_verified_once_per_worker(
    make_config: Any, hashed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg: Config = make_config(ROTATION.format(hash=hashed), env={"OLD_PW": "a", "NEW_PW": "b"})
    auth = BasicAuth(cfg.auth.basic)
    from app.auth import passwords

    calls = []
    real = passwords.PasswordHash.derive

    def counting(self: passwords.PasswordHash, password: bytes) -> bytes:
        calls.append(1)
        return real(self, password)

    monkeypatch.setattr(passwords.PasswordHash, "derive", counting)
    env = {"HTTP_AUTHORIZATION": basic("apim", "apim-gateway-secret-1")["Authorization"]}
    for _ in range(5):
        assert auth.authenticate(env) is not None
    assert len(calls) == 1
    # A wrong password is never cached: each attempt pays the slow hash.
    bad = {"HTTP_AUTHORIZATION": basic("apim", "nope")["Authorization"]}
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="does not match"):
            auth.authenticate(bad)
    assert len(calls) == 3


def test_a_verified_header_is_remembered_as_a_digest_only(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BasicAuth(config.auth.basic)
    header = basic("entra", PASSWORD)["Authorization"]
    first = auth.authenticate({"HTTP_AUTHORIZATION": header})
    assert first is not None

    from app.auth import basic as basic_module

    def must_not_parse(header: str | None) -> None:
        raise AssertionError("a remembered header was parsed and verified again")

    with monkeypatch.context() as m:
        m.setattr(basic_module, "parse_basic_header", must_not_parse)
        assert auth.authenticate({"HTTP_AUTHORIZATION": header}) is first
    # Anything else still goes the whole way, and fails for its own reason.
    wrong = basic("entra", PASSWORD + "x")["Authorization"]
    with pytest.raises(AuthenticationError, match="does not match"):
        auth.authenticate({"HTTP_AUTHORIZATION": wrong})
    # The cache holds 32-byte keyed digests: neither the header nor the password.
    [key] = auth._seen
    assert len(key) == 32
    assert PASSWORD.encode() not in key
    assert header.encode() != key


def test_remembered_headers_are_bounded(config: Config) -> None:
    auth = BasicAuth(config.auth.basic)
    header = basic("entra", PASSWORD)["Authorization"]
    # Surrounding whitespace makes distinct headers that all verify.
    for i in range(300):
        assert auth.authenticate({"HTTP_AUTHORIZATION": " " * i + header}) is not None
    assert 0 < len(auth._seen) <= 256


def test_unknown_user_costs_a_slow_hash_too(make_config: Any, hashed: str) -> None:
    """Timing must not reveal which user names exist."""
    cfg: Config = make_config(ROTATION.format(hash=hashed), env={"OLD_PW": "a", "NEW_PW": "b"})
    auth = BasicAuth(cfg.auth.basic)

    def cost(user: str) -> float:
        env = {"HTTP_AUTHORIZATION": basic(user, "wrong-password")["Authorization"]}
        t = time.perf_counter()
        with pytest.raises(AuthenticationError):
            auth.authenticate(env)
        return time.perf_counter() - t

    known = min(cost("apim") for _ in range(3))
    unknown = min(cost("not-a-user") for _ in range(3))
    # Both pay one scrypt (tens of ms); a skipped hash would be ~1000x cheaper.
    assert unknown > known / 5, (known, unknown)


def test_api_key_in_development(make_config: Any) -> None:
    from app import create_app

    key = "k" * 20
    cfg = make_config(
        "environment='development'\n[auth]\nmethods=['api_key']\n",
        env={"CONNECTOR_API_KEYS": f"{key},{'z' * 24}"},
    )
    client = create_app(cfg).test_client()
    assert client.post(f"{URL}?code={key}", json=BODY).status_code == 200
    assert client.post(URL, json=BODY, headers={"x-api-key": "z" * 24}).status_code == 200
    assert client.post(f"{URL}?code=wrong", json=BODY).status_code == 401
    assert client.post(URL, json=BODY).status_code == 401
