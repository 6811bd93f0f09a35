"""The extension operations at the gateway: validate-jwt from [auth.entra_token], or refused."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from app import create_app
from app.apim.extension import OPERATIONS, ExtensionGateway, extension_gateway, verify_extension
from app.apim.render import render_bundle
from app.apim.settings import ApimSettings
from app.auth import Authenticator
from app.config.model import AuthConfig, CertificateAuthConfig, EntraTokenConfig
from app.errors import ConfigError, ToolError
from tests import pki, tokens
from tests.conftest import build_config
from tests.test_apim_render import (
    BACKEND_BASIC,
    BACKEND_CERT,
    assert_base_first,
    assert_valid,
    load_policy_schema,
    parse,
)
from tests.test_extension import START, SUBMIT, event

CERT = CertificateAuthConfig(thumbprints=("ab" * 20,))
TOKEN = EntraTokenConfig(tenant_id=tokens.TENANT, audience=tokens.AUDIENCE)
EVENTS_APP = "99045fe1-7639-4a75-9d4a-577b6ca3810f"
IS_EXTENSION = " || ".join(f'context.Operation.Id == "{op}"' for op in OPERATIONS)


@pytest.fixture(scope="module")
def policy_schema(tmp_path_factory: pytest.TempPathFactory) -> xmlschema.XMLSchema11:
    return load_policy_schema(tmp_path_factory.mktemp("apim-xsd"))


def app_auth(
    token: EntraTokenConfig = TOKEN, methods: tuple[str, ...] = ("certificate", "entra_token")
) -> AuthConfig:
    return AuthConfig(methods=methods, certificate=CERT, entra_token=token)


def render(
    tmp_path: Path, token: EntraTokenConfig = TOKEN, **apim: Any
) -> tuple[ApimSettings, ET.Element, str]:
    data = {"tier": "premium", "backend": BACKEND_CERT, **apim}
    settings = parse(data, CERT)
    methods = ("certificate", "entra_token") if token.audience else ("certificate",)
    render_bundle(settings, app_auth(token, methods), tmp_path / "out")
    text = (tmp_path / "out" / "api-policy.xml").read_text(encoding="utf-8")
    return settings, ET.fromstring(text), text


def caller_branches(root: ET.Element) -> tuple[ET.Element, list[ET.Element]]:
    """The inbound choose's extension branch, and the connector branches after it."""
    inbound = root.find("inbound")
    assert inbound is not None
    (choose,) = [e for e in inbound if e.tag == "choose"][:1]
    first, *rest = list(choose)
    assert first.tag == "when" and first.get("condition") == f"@({IS_EXTENSION})"
    return first, rest


def tags(branch: ET.Element) -> list[str]:
    return [e.tag for e in branch.iter() if isinstance(e.tag, str)][1:]


# --- with [auth.entra_token] ---------------------------------------------------------------


@pytest.mark.parametrize("gateway_auth", [["certificate"], ["basic"], ["certificate", "basic"]])
def test_extension_operations_carry_validate_jwt_and_no_connector_check(
    tmp_path: Path, policy_schema: xmlschema.XMLSchema11, gateway_auth: list[str]
) -> None:
    basic: dict[str, Any] = {}
    if "basic" in gateway_auth:
        basic["gateway_basic_named_values"] = ["entra-basic"]
    _, root, text = render(tmp_path, gateway_auth=gateway_auth, **basic)
    assert_base_first(assert_valid(policy_schema, text))
    extension, connector = caller_branches(root)
    (jwt,) = extension.iter("validate-jwt")
    assert (jwt.get("header-name"), jwt.get("require-scheme")) == ("Authorization", "Bearer")
    assert (jwt.get("failed-validation-httpcode"), jwt.get("clock-skew")) == ("401", "60")
    assert [e.get("url") for e in jwt.iter("openid-config")] == [
        f"https://{tokens.TENANT}.ciamlogin.com/{tokens.TENANT}/v2.0"
        "/.well-known/openid-configuration"
    ]
    assert [e.text for e in jwt.iter("audience")] == [tokens.AUDIENCE]
    assert [e.text for e in jwt.iter("issuer")] == [tokens.ISSUER]
    (claim,) = jwt.iter("claim")
    assert (claim.get("name"), claim.get("match")) == ("azp", "any")
    assert [v.text for v in claim.iter("value")] == [EVENTS_APP]
    assert not {"validate-client-certificate", "check-header"} & set(tags(extension))
    # The connector operations keep exactly their checks, and never see validate-jwt.
    connector_tags = {t for branch in connector for t in tags(branch)}
    assert "validate-jwt" not in connector_tags
    assert ("certificate" in gateway_auth) == ("validate-client-certificate" in connector_tags)
    assert ("basic" in gateway_auth) == ("check-header" in connector_tags)


def test_connector_checks_are_unchanged_by_the_extension(tmp_path: Path) -> None:
    both: dict[str, Any] = {
        "gateway_auth": ["certificate", "basic"],
        "gateway_basic_named_values": ["b"],
    }
    _, with_token, _ = render(tmp_path / "a", **both)
    _, without, _ = render(tmp_path / "b", EntraTokenConfig(), **both)
    kept = [ET.tostring(b) for b in caller_branches(with_token)[1]]
    assert kept == [ET.tostring(b) for b in caller_branches(without)[1]]


def test_the_token_goes_on_to_the_app_with_the_gateway_certificate(tmp_path: Path) -> None:
    _, root, _ = render(tmp_path)
    inbound = root.find("inbound")
    assert inbound is not None
    deletes = [
        w
        for w in inbound.findall("choose/when")
        if [(h.tag, h.get("name"), h.get("exists-action")) for h in w]
        == [("set-header", "Authorization", "delete")]
    ]
    (delete,) = deletes  # the caller's Authorization goes only on the connector operations
    assert delete.get("condition") == f"@(!({IS_EXTENSION}))"
    (cert,) = inbound.findall("authentication-certificate")  # every operation, unconditionally
    assert cert.get("certificate-id") == BACKEND_CERT["certificate_id"]


def test_a_basic_backend_credential_never_overwrites_the_token(tmp_path: Path) -> None:
    _, root, _ = render(tmp_path, backend=BACKEND_BASIC)
    inbound = root.find("inbound")
    assert inbound is not None
    assert not inbound.findall("authentication-basic")
    (when,) = [
        w for w in inbound.findall("choose/when") if w.find("authentication-basic") is not None
    ]
    assert when.get("condition") == f"@(!({IS_EXTENSION}))"


def test_a_refused_token_is_answered_like_the_app(tmp_path: Path) -> None:
    _, root, _ = render(tmp_path)
    on_error = root.find("on-error")
    assert on_error is not None
    (when,) = [
        w
        for w in on_error.iter("when")
        if 'LastError.Source == "validate-jwt"' in w.get("condition", "")
    ]
    assert when.find("set-status").get("code") == "401"  # type: ignore[union-attr]
    challenge = when.findtext("set-header/value")
    app = Authenticator(app_auth()).challenge_for("authentication_extension")
    assert challenge == app == 'Bearer realm="authentication-extension"'
    assert json.loads(when.findtext("set-body") or "") == {"status": 401, "title": "Unauthorized"}


@pytest.mark.parametrize(
    ("token", "openid", "issuer", "claim"),
    [
        # A v1.0 issuer: the calling app is named in appid.
        (
            EntraTokenConfig(
                tenant_id=tokens.TENANT, audience="api://c", issuer="https://sts.windows.net/t/"
            ),
            f"https://{tokens.TENANT}.ciamlogin.com/{tokens.TENANT}/v2.0/.well-known/openid-configuration",
            "https://sts.windows.net/t/",
            "appid",
        ),
        # No tenant id: the issuer's own metadata (a workforce tenant, say).
        (
            EntraTokenConfig(
                issuer=f"https://login.microsoftonline.com/{tokens.TENANT}/v2.0", audience="a"
            ),
            f"https://login.microsoftonline.com/{tokens.TENANT}/v2.0/.well-known/openid-configuration",
            f"https://login.microsoftonline.com/{tokens.TENANT}/v2.0",
            "azp",
        ),
    ],
)
def test_issuer_decides_metadata_and_client_claim(
    token: EntraTokenConfig, openid: str, issuer: str, claim: str
) -> None:
    gateway = extension_gateway(app_auth(token), "certificate", "c.toml")
    assert gateway is not None
    assert (gateway.openid_config_url, gateway.issuer, gateway.client_claim) == (
        openid,
        issuer,
        claim,
    )


def test_client_ids_and_leeway_follow_the_app(tmp_path: Path) -> None:
    other = "00000000-1111-2222-3333-444444444444"
    token = EntraTokenConfig(
        tenant_id=tokens.TENANT,
        audience=tokens.AUDIENCE,
        allowed_client_ids=(EVENTS_APP.upper(), other),
        leeway_seconds=0,
    )
    _, root, _ = render(tmp_path, token)
    (jwt,) = root.iter("validate-jwt")
    assert [v.text for v in jwt.iter("value")] == [EVENTS_APP, other]
    assert jwt.get("clock-skew") == "0"


# --- without it ----------------------------------------------------------------------------


def test_without_entra_token_the_extension_operations_are_refused(
    tmp_path: Path, policy_schema: xmlschema.XMLSchema11
) -> None:
    _, root, text = render(tmp_path, EntraTokenConfig())
    assert_base_first(assert_valid(policy_schema, text))
    extension, connector = caller_branches(root)
    assert not list(root.iter("validate-jwt"))
    (refusal,) = extension
    assert refusal.tag == "return-response"
    assert refusal.find("set-status").get("code") == "403"  # type: ignore[union-attr]
    assert json.loads(refusal.findtext("set-body") or "") == {"status": 403, "title": "Forbidden"}
    assert "validate-client-certificate" in {t for b in connector for t in tags(b)}
    readme = (tmp_path / "out" / "README.txt").read_text(encoding="utf-8")
    assert "refused, [auth.entra_token] unset" in readme


# --- configuration errors: one line, the key named, nothing written ------------------------

BAD: list[tuple[EntraTokenConfig, str, tuple[str, ...], str]] = [
    (
        EntraTokenConfig(audience=tokens.AUDIENCE),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.tenant_id: expected the tenant id \(a GUID\) or an issuer",
    ),
    (
        EntraTokenConfig(tenant_id=tokens.TENANT),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.audience: expected the API's application id .*got ''",
    ),
    (
        EntraTokenConfig(issuer=tokens.ISSUER, audience=" a"),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.audience: expected .*got ' a'",
    ),
    (
        EntraTokenConfig(tenant_id="contoso", audience="a"),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.tenant_id: expected the tenant id \(a GUID\), got 'contoso'",
    ),
    (
        EntraTokenConfig(issuer="http://sts.example/", audience="a"),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.issuer: expected an https:// URL, got 'http://sts\.example/'",
    ),
    (
        EntraTokenConfig(tenant_id=tokens.TENANT, audience="a", allowed_client_ids=()),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.allowed_client_ids: expected at least one",
    ),
    (
        EntraTokenConfig(tenant_id=tokens.TENANT, audience="a", allowed_client_ids=("x",)),
        "certificate",
        ("certificate",),
        r"auth\.entra_token\.allowed_client_ids\[0\]: expected a GUID, got 'x'",
    ),
    (
        TOKEN,
        "basic",
        ("certificate",),
        r"auth\.methods: expected 'entra_token' when apim\.backend\.auth is 'basic'",
    ),
]


@pytest.mark.parametrize(("token", "backend", "methods", "message"), BAD)
def test_bad_entra_token_configuration_names_the_key(
    tmp_path: Path, token: EntraTokenConfig, backend: str, methods: tuple[str, ...], message: str
) -> None:
    settings = parse(
        {"tier": "premium", "backend": BACKEND_BASIC if backend == "basic" else BACKEND_CERT}, CERT
    )
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=message) as info:
        render_bundle(settings, app_auth(token, methods), out)
    assert str(info.value).startswith("test.toml: ") and "\n" not in str(info.value)
    assert not out.exists()


# --- the renderer's own check ---------------------------------------------------------------

GATEWAY = ExtensionGateway("https://m", "https://i", "aud", "azp", (EVENTS_APP,), 60)
WHEN = '<when condition="@(' + IS_EXTENSION.replace('"', "&quot;") + ')">{}</when>'
JWT = (
    "<validate-jwt><audiences><audience>{aud}</audience></audiences><issuers><issuer>https://i"
    '</issuer></issuers><required-claims><claim name="azp"><value>' + EVENTS_APP + "</value>"
    "</claim></required-claims></validate-jwt>"
)


@pytest.mark.parametrize(
    ("body", "gateway", "message"),
    [
        (JWT.format(aud="aud"), GATEWAY, None),
        ("<return-response />", None, None),
        ("<return-response />", GATEWAY, "expected one validate-jwt, got 0"),
        (JWT.format(aud="other"), GATEWAY, "the gateway and the app would drift apart"),
        (JWT.format(aud="aud"), None, "expected the extension operations refused"),
    ],
)
def test_verify_refuses_a_document_that_drifted(
    body: str, gateway: ExtensionGateway | None, message: str | None
) -> None:
    root = ET.fromstring(f"<policies><choose>{WHEN.format(body)}</choose></policies>")
    if message is None:
        verify_extension(root, gateway, "api-policy.xml")
    else:
        with pytest.raises(ToolError, match=message):
            verify_extension(root, gateway, "api-policy.xml")


def test_verify_refuses_a_document_without_the_operation_choice() -> None:
    root = ET.fromstring(f"<policies>{JWT.format(aud='aud')}</policies>")
    with pytest.raises(ToolError, match=r"no <when> selects the operations"):
        verify_extension(root, GATEWAY, "api-policy.xml")


# --- the trust chain at the app ------------------------------------------------------------

APP_TOML = """
environment = "production"
[auth]
methods = ["certificate", "entra_token"]
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/24"]
thumbprints = ["{pin}"]
[auth.entra_token]
tenant_id = "{tenant}"
audience = "{audience}"
jwks_file = "{jwks}"
"""


@pytest.mark.parametrize("url", [START, SUBMIT])
def test_the_app_admits_what_the_gateway_forwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    gateway_cert = pki.leaf("CN=apim.contoso", issuer=pki.root_ca("CN=Test Root"), eku="client")
    toml = APP_TOML.format(
        pin=gateway_cert.sha256,
        tenant=tokens.TENANT,
        audience=tokens.AUDIENCE,
        jwks=tokens.write_jwks(tmp_path / "jwks.json"),
    )
    client = create_app(build_config(toml), TESTING=True).test_client()
    front_end = {"X-ARR-ClientCert": base64.b64encode(gateway_cert.der).decode()}
    cases = [
        ({**front_end, **tokens.bearer()}, 200, "entra_token"),  # the app checks the token again
        (front_end, 200, "certificate"),  # or admits the gateway by its certificate
        (tokens.bearer(tokens.token(aud="someone-else")), 401, None),  # no gateway, bad token
        ({}, 401, None),
    ]
    for headers, status, method in cases:
        resp = client.post(
            url, json=event(url), headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.4"}
        )
        assert resp.status_code == status, (headers.keys(), resp.data)
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"decision"' in x]
        if method is not None:
            assert lines[-1]["auth_method"] == method


def test_the_selected_operations_are_the_apps_extension_routes() -> None:
    app = create_app(build_config(), TESTING=True)
    routes = {r.rule for r in app.url_map.iter_rules() if "POST" in (r.methods or ())}
    extension = {r for r in routes if r.startswith("/api/authentication-extension/")}
    assert extension == {f"/api/authentication-extension/{op}" for op in OPERATIONS}
