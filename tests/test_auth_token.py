"""Entra bearer tokens: every rejection names its reason, in the log only, with a bare 401."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.auth.token import EntraTokenAuth, bearer_token, default_issuer, metadata_url
from app.config.model import EntraTokenConfig
from app.errors import AuthenticationError
from tests import tokens
from tests.conftest import build_config
from tests.support import BASIC_TOML, basic

URL = "/api/authentication-extension/attribute-collection-submit"
NOW = int(time.time())


def _event() -> dict[str, object]:
    return {
        "type": "microsoft.graph.authenticationEvent.attributeCollectionSubmit",
        "data": {
            "@odata.type": "microsoft.graph.onAttributeCollectionSubmitCalloutData",
            "userSignUpInfo": {"attributes": {}, "identities": []},
        },
    }


@pytest.fixture(scope="module")
def jwks_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tokens.write_jwks(tmp_path_factory.mktemp("jwks") / "keys.json")


@pytest.fixture
def auth(jwks_path: Path) -> EntraTokenAuth:
    return EntraTokenAuth(
        EntraTokenConfig(
            tenant_id=tokens.TENANT, audience=tokens.AUDIENCE, jwks_file=str(jwks_path)
        )
    )


@pytest.fixture
def app(jwks_path: Path) -> Flask:
    return create_app(build_config(tokens.config_toml(jwks_path)), TESTING=True)


def environ(value: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": value}


# (id, token factory, reason the log must give)
BAD: list[tuple[str, Callable[[], str], str]] = [
    (
        "expired",
        lambda: tokens.token(exp=NOW - 600, iat=NOW - 4000, nbf=NOW - 4000),
        "token expired",
    ),
    ("wrong-audience", lambda: tokens.token(aud="api://someone-else"), "wrong audience"),
    (
        "wrong-issuer",
        lambda: tokens.token(iss="https://login.microsoftonline.com/x/v2.0"),
        "wrong issuer",
    ),
    ("wrong-azp", lambda: tokens.token(azp="00000000-0000-0000-0000-000000000000"), "wrong azp"),
    (
        "wrong-appid-v1",
        lambda: tokens.token(azp=None, appid="00000000-0000-0000-0000-000000000000"),
        "wrong appid",
    ),
    ("no-azp-or-appid", lambda: tokens.token(azp=None), "neither azp nor appid"),
    (
        "alg-none",
        lambda: tokens.unsigned({"alg": "none", "typ": "JWT", "kid": tokens.KID}, tokens.claims()),
        "algorithm 'none' not allowed",
    ),
    ("hs256-public-key", tokens.hs256_with_public_key, "algorithm 'HS256' not allowed"),
    ("rs512", lambda: tokens.token(algorithm="RS512"), "algorithm 'RS512' not allowed"),
    ("unknown-kid", lambda: tokens.token("other-key", kid="other-key"), "unknown key id"),
    (
        "tampered-payload",
        lambda: tokens.tampered(tokens.token(), azp=tokens.ENTRA_APP, oid="attacker"),
        "signature does not verify",
    ),
    (
        "other-key-same-kid",
        lambda: tokens.token("other-key", kid=tokens.KID),
        "signature does not verify",
    ),
    ("no-kid", lambda: tokens.token(kid=None), "expected a key id"),
    ("missing-exp", lambda: tokens.token(exp=None), "required claim 'exp'"),
    ("missing-iat", lambda: tokens.token(iat=None), "required claim 'iat'"),
    ("not-yet-valid", lambda: tokens.token(nbf=NOW + 3600), "not yet valid"),
    ("wrong-tenant", lambda: tokens.token(tid="00000000-0000-0000-0000-000000000000"), "tenant"),
    ("not-a-jwt", lambda: "not.a.jwt", "malformed token"),
    ("two-segments", lambda: "abc.def", "malformed token"),
]


@pytest.mark.parametrize(("make", "reason"), [pytest.param(m, r, id=i) for i, m, r in BAD])
def test_rejected_with_reason(auth: EntraTokenAuth, make: Callable[[], str], reason: str) -> None:
    with pytest.raises(AuthenticationError, match=re.escape(reason)):
        auth.authenticate(environ("Bearer " + make()))


@pytest.mark.parametrize(("make", "reason"), [pytest.param(m, r, id=i) for i, m, r in BAD])
def test_rejected_over_http_with_bare_401(
    client: FlaskClient,
    capfd: pytest.CaptureFixture[str],
    make: Callable[[], str],
    reason: str,
) -> None:
    value = make()
    r = client.post(URL, json=_event(), headers=tokens.bearer(value))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="authentication-extension"'
    assert r.get_json() == {"type": "about:blank", "title": "Unauthorized", "status": 401}
    log = capfd.readouterr().err
    assert '"event":"auth.rejected"' in log
    assert reason in log, log
    assert value not in log  # the token itself is never logged


def test_valid_token_admits(auth: EntraTokenAuth) -> None:
    principal = auth.authenticate(environ("Bearer " + tokens.token()))
    assert principal is not None
    assert (principal.method, principal.subject) == ("entra_token", tokens.ENTRA_APP)
    assert principal.extra == (("kid", tokens.KID),)


def test_v1_token_with_appid_admits(auth: EntraTokenAuth) -> None:
    principal = auth.authenticate(
        environ("Bearer " + tokens.token(azp=None, appid=tokens.ENTRA_APP))
    )
    assert principal is not None and principal.subject == tokens.ENTRA_APP


def test_expiry_within_leeway_admits(auth: EntraTokenAuth) -> None:
    # Clocks drift: a token that expired 30 s ago passes the 60 s default leeway...
    assert auth.authenticate(environ("Bearer " + tokens.token(exp=int(time.time()) - 30)))
    # ...and one that expired beyond it does not.
    with pytest.raises(AuthenticationError, match="expired"):
        auth.authenticate(environ("Bearer " + tokens.token(exp=int(time.time()) - 90)))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_short_rsa_key_is_refused(tmp_path: Path) -> None:
    path = tokens.write_jwks(tmp_path / "short.json", tokens.jwk("short", bits=1024))
    auth = EntraTokenAuth(
        EntraTokenConfig(tenant_id=tokens.TENANT, audience=tokens.AUDIENCE, jwks_file=str(path))
    )
    with pytest.raises(AuthenticationError, match="unusable"):
        auth.authenticate(environ("Bearer " + tokens.token("short", kid="short", bits=1024)))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_scheme_is_case_insensitive(client: FlaskClient, scheme: str) -> None:
    r = client.post(URL, json=_event(), headers={"Authorization": f"{scheme} {tokens.token()}"})
    assert r.status_code == 200
    assert r.get_json()["data"]["@odata.type"].endswith("SubmitResponseData")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("Basic abc", None), ("Digest x", None), ("Bearer  tok ", "tok")],
)
def test_bearer_token_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize(
    ("header", "reason"),
    [("Bearer", "empty"), ("Bearer    ", "empty"), ("Bearer " + "a" * 9000, "too long")],
)
def test_bearer_header_rejected(header: str, reason: str) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        bearer_token(header)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Digest username=entra"}, {"Authorization": ""}]
)
def test_no_token_is_401_with_bearer_challenge(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    r = client.post(URL, json=_event(), headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="authentication-extension"'


def test_contracts_keep_their_own_credentials(tmp_path: Path) -> None:
    """Basic admits API connector calls only; a token admits extension calls only."""
    path = tokens.write_jwks(tmp_path / "keys.json")
    text = BASIC_TOML.replace('methods = ["basic"]', 'methods = ["basic", "entra_token"]')
    text += f"""
[auth.entra_token]
tenant_id = "{tokens.TENANT}"
audience = "{tokens.AUDIENCE}"
jwks_file = "{path}"
"""
    client = create_app(build_config(text), TESTING=True).test_client()
    connector = "/api/connector/post-attribute-collection"
    assert client.post(URL, json=_event(), headers=basic()).status_code == 401
    assert (
        client.post(connector, json={"email": "a@contoso.com"}, headers=tokens.bearer()).status_code
        == 401
    )
    assert client.post(URL, json=_event(), headers=tokens.bearer()).status_code == 200
    assert (
        client.post(connector, json={"email": "a@contoso.com"}, headers=basic()).status_code == 200
    )


def test_issuer_defaults_and_override() -> None:
    tid = tokens.TENANT.upper()
    assert default_issuer(tid) == tokens.ISSUER
    assert metadata_url(tokens.TENANT) == tokens.ISSUER + "/.well-known/openid-configuration"
    custom = "https://contoso.ciamlogin.com/" + tokens.TENANT + "/v2.0"
    cfg = EntraTokenConfig(
        tenant_id=tokens.TENANT, audience="a", issuer=custom, jwks_url="https://x/k"
    )
    assert EntraTokenAuth(cfg).issuer == custom
