"""The conformance suite passes against this project's own service, run by the real gunicorn.

One gunicorn per auth method: basic (plain HTTP), client certificate (gunicorn terminates TLS,
certificate optional and required) and, for the authentication extension, an Entra bearer token.
Variants whose service parts are not there yet are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import app.cli
from tests.broken_servers import Pki, make_pki

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (ROOT / "wsgi.py").exists(), reason="wsgi.py (the service) not there yet"
    ),
]

RULES = """
[rules.email_domains]
deny = ["blocked.example"]

[[rules.attributes]]
name = "postalCode"
pattern = "^[0-9]{5}$"
message.en = "Please enter a valid postal code."
"""
RULE_OPTIONS = ("--invalid-claim", "postalCode=ABC", "--blocked-email", "eve@blocked.example")
CONNECTOR_PATHS = (
    "/api/connector/post-federation-signup",
    "/api/connector/post-attribute-collection",
    "/api/connector/pre-token-issuance",
)
Conformance = Callable[..., dict[str, object]]


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture
def conformance(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Conformance:
    if "app.simulate.cli" not in app.cli._GROUPS:
        monkeypatch.setattr(app.cli, "_GROUPS", (*app.cli._GROUPS, "app.simulate.cli"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    def call(*argv: str) -> dict[str, object]:
        code = app.cli.main(["conformance", *argv, "--json"])
        out, err = capsys.readouterr()
        assert err == ""
        document: dict[str, object] = json.loads(out)
        problems = [
            (target["url"], probe["id"], finding)
            for target in document["targets"]  # type: ignore[attr-defined]
            for probe in target["probes"]
            for finding in probe["findings"]
            if finding["severity"] != "info"
        ]
        assert problems == [] and code == 0, json.dumps(problems, indent=1)
        return document

    return call


def test_basic_auth(conformance: Conformance, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import BASIC_TOML, PASSWORD, gunicorn

    assert ":" in PASSWORD  # so auth.colon-password runs
    monkeypatch.setenv("CONNECTOR_BASIC_PASSWORD", PASSWORD)
    with gunicorn(BASIC_TOML + RULES, workers=2) as server:
        urls = [server.url + "/api/connector", *(server.url + p for p in CONNECTOR_PATHS)]
        document = conformance(urls[0], "--b2c", "--basic", "entra", *RULE_OPTIONS)
        document2 = conformance(*urls[1:], "--basic", "entra", *RULE_OPTIONS)
    attributes = document2["targets"][1]  # type: ignore[index]
    assert attributes["url"].endswith("/post-attribute-collection")
    probes = {p["id"]: p for p in attributes["probes"]}
    assert probes["auth.colon-password"]["status"] == 200
    assert probes["body.oversized"]["status"] == 413
    assert probes["rules.invalid-claim"]["action"] == "ValidationError"
    assert len(document["targets"]) == 1 and len(document2["targets"]) == 3  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.skipif(
    not _has("app.auth.certificate"),
    reason="certificate auth (app/auth/certificate.py) not there yet",
)
@pytest.mark.parametrize("mode", ["optional", "required"])
def test_certificate_auth(
    conformance: Conformance, monkeypatch: pytest.MonkeyPatch, pki: Pki, mode: str
) -> None:
    from tests.support import gunicorn

    config = (
        f"""
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
sources = ["tls"]
thumbprints = ["{pki.client_sha256}"]
"""
        + RULES
    )
    env = {
        "CONNECTOR_TLS_CERT": str(pki.server_cert),
        "CONNECTOR_TLS_KEY": str(pki.server_key),
        "CONNECTOR_TLS_CLIENT_CA": str(pki.ca),
        "CONNECTOR_TLS_CLIENT_CERT": mode,
    }
    ready = ssl.create_default_context(cafile=str(pki.ca))
    ready.load_cert_chain(pki.client_cert, pki.client_key)
    monkeypatch.setenv("CONNECTOR_PFX_PASSWORD", pki.pfx_password)
    with gunicorn(config, env=env, scheme="https", ssl_context=ready) as server:
        document = conformance(
            *(server.url + p for p in CONNECTOR_PATHS),
            "--pfx",
            str(pki.client_pfx),
            "--ca",
            str(pki.ca),
            *RULE_OPTIONS,
        )
    for target in document["targets"]:  # type: ignore[attr-defined]
        probes = {p["id"]: p for p in target["probes"]}
        assert probes["valid.full"]["status"] == 200
        impostor = probes["auth.impostor-cert"]
        # Refused by the app (403) or, with `required`, possibly already in the handshake.
        assert impostor["status"] == 403 or impostor["error"], impostor


@pytest.mark.skipif(
    not _has("app.auth.token"), reason="bearer tokens (app/auth/token.py) not there"
)
def test_authentication_extension_with_bearer_token(
    conformance: Conformance, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.support import gunicorn

    tenant = "30000000-0000-0000-0000-000000000003"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    now = int(time.time())
    claims = {
        "iss": f"https://{tenant}.ciamlogin.com/{tenant}/v2.0",
        "aud": "api://connector-test",
        "azp": "99045fe1-7639-4a75-9d4a-577b6ca3810f",
        "tid": tenant,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    monkeypatch.setenv("CONNECTOR_BEARER_TOKEN", jwt.encode(claims, key, "RS256", {"kid": "k1"}))
    config = (
        f"""
environment = "production"
[auth]
methods = ["entra_token"]
[auth.entra_token]
tenant_id = "{tenant}"
audience = "api://connector-test"
jwks_file = "{jwks}"
"""
        + RULES
    )
    with gunicorn(config, ready_path="/healthz") as server:
        base = server.url + "/api/authentication-extension/"
        document = conformance(
            base + "attribute-collection-start",
            base + "attribute-collection-submit",
            "--bearer",
            *RULE_OPTIONS,
        )
    submit = {p["id"]: p for p in document["targets"][1]["probes"]}  # type: ignore[index]
    assert submit["valid.full"]["status"] == 200 and submit["auth.bad-token"]["status"] == 401
    assert submit["rules.invalid-claim"]["action"] == "showValidationError"
