"""The rendered bundle: official XSDs (1.1), <base /> first, no secrets, no drift, atomic."""

from __future__ import annotations

import base64
import json
import re
import shutil
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
import xmlschema

from app.apim import render as render_mod
from app.apim.render import NAMED_VALUE_REF, render_bundle
from app.apim.settings import ApimSettings, parse_apim
from app.certs.x509util import cert_pins, load_certificate_file, normalise_thumbprint
from app.config import parse_config
from app.config.model import AuthConfig, CertificateAuthConfig, EntraTokenConfig
from app.config.reader import Table
from app.errors import ConfigError, ToolError
from tests.support import PASSWORD, ROOT
from tests.test_apim_identities import make_cert, sha1, sha256, write_der, write_pem

SCHEMAS = ROOT.parent / "shared" / "apim-policy-schemas"
SECTIONS = ("inbound", "backend", "outbound", "on-error")
BACKEND_CERT = {
    "url": "https://connector.azurewebsites.net",
    "auth": "certificate",
    "certificate_id": "connector-client",
}
BACKEND_BASIC = {
    "url": "https://connector.azurewebsites.net",
    "auth": "basic",
    "username_named_value": "connector-backend-username",
    "password_named_value": "connector-backend-password",
}


@pytest.fixture(scope="module")
def policy_schema(tmp_path_factory: pytest.TempPathFactory) -> xmlschema.XMLSchema11:
    """The official schemas, loaded once per module (it takes ~0.5 s)."""
    return load_policy_schema(tmp_path_factory.mktemp("apim-xsd"))


def load_policy_schema(target: Path) -> xmlschema.XMLSchema11:
    """The official schemas, loaded the way their README says."""
    if not (SCHEMAS / "policies.xsd").is_file():
        pytest.skip(f"official APIM schemas not found at {SCHEMAS}")
    for xsd in SCHEMAS.glob("*.xsd"):
        shutil.copy(xsd, target / xsd.name)
    main = target / "policies.xsd"
    text = main.read_text(encoding="utf-8")
    include = '<xs:include schemaLocation="cross-domain.xsd"/>'
    assert include in text  # the README's recipe still applies to this copy
    main.write_text(text.replace(include, ""), encoding="utf-8")
    return xmlschema.XMLSchema11(str(main))


def with_samples(xml_text: str) -> str:
    """Named values replaced by sample values: the schema rejects {{x}} in typed attributes."""
    return NAMED_VALUE_REF.sub(lambda m: f"sample-{m.group(1)}", xml_text)


def assert_valid(schema: xmlschema.XMLSchema11, xml_text: str) -> ET.Element:
    sample = with_samples(xml_text)
    schema.validate(sample)
    root = ET.fromstring(sample)
    # choose.xsd skips the content of <when>/<otherwise>: validate those policies on their own.
    for branch in root.iter():
        if branch.tag in ("when", "otherwise"):
            for policy in branch:
                if isinstance(policy.tag, str):
                    wrapped = ET.Element("policies")
                    inbound = ET.SubElement(wrapped, "inbound")
                    ET.SubElement(inbound, "base")
                    inbound.append(policy)
                    schema.validate(ET.tostring(wrapped, encoding="unicode"))
    return root


def assert_base_first(root: ET.Element) -> None:
    assert root.tag == "policies"
    assert [s.tag for s in root] == list(SECTIONS)
    for section in root:
        elements = [e for e in section if isinstance(e.tag, str)]
        assert elements and elements[0].tag == "base", section.tag
        assert [e.tag for e in elements].count("base") == 1, section.tag


def parse(data: dict[str, Any], cert: CertificateAuthConfig) -> ApimSettings:
    return parse_apim(Table(data, "apim", "test.toml"), cert)


TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
AUDIENCE = "11112222-bbbb-3333-cccc-4444dddd5555"
TOKEN = EntraTokenConfig(tenant_id=TENANT, audience=AUDIENCE)


NO_TOKEN = EntraTokenConfig()


def app_auth(cert: CertificateAuthConfig, token: EntraTokenConfig = NO_TOKEN) -> AuthConfig:
    """The app's [auth] the gateway mirrors; entra_token among the methods once configured."""
    methods = ("certificate", "entra_token") if token.audience else ("certificate",)
    return AuthConfig(methods=methods, certificate=cert, entra_token=token)


def subject_cert() -> CertificateAuthConfig:
    return CertificateAuthConfig(
        thumbprints=("ab" * 20,),
        ca_bundle="ca.pem",
        subjects=("CN=entra.contoso,O=Contoso",),
        issuers=("CN=Contoso Issuing CA",),
    )


SCENARIOS: dict[str, tuple[dict[str, Any], CertificateAuthConfig, EntraTokenConfig]] = {
    "standard-cert-cert": (
        {"tier": "standard", "backend": BACKEND_CERT},
        CertificateAuthConfig(thumbprints=("ab" * 20, "cd" * 20)),
        TOKEN,
    ),
    "consumption-cert-basic-ipfilter": (
        {
            "tier": "consumption",
            "backend": BACKEND_BASIC,
            "allowed_ips": ["203.0.113.0/24", "198.51.100.7"],
        },
        CertificateAuthConfig(thumbprints=("ab" * 20,)),
        TOKEN,
    ),
    "premium-both-basic-trust": (
        {
            "tier": "premium",
            "gateway_auth": ["certificate", "basic"],
            "gateway_basic_named_values": ["entra-basic", "entra-basic-next"],
            "client_certificate": {"validate_trust": True, "validate_revocation": True},
            "backend": BACKEND_BASIC,
            "key_vault_secrets": {"connector-backend-password": "connector-basic-password"},
        },
        subject_cert(),
        EntraTokenConfig(),
    ),
    "basicv2-basic-cert": (
        {
            "tier": "basicv2",
            "gateway_auth": ["basic"],
            "gateway_basic_named_values": ["entra-basic"],
            "backend": BACKEND_CERT,
            "rate_limit": {"calls": 100, "renewal_period": 300},
        },
        CertificateAuthConfig(),
        EntraTokenConfig(issuer=f"https://sts.windows.net/{TENANT}/", audience="api://connector"),
    ),
    "developer-ten-identities": (
        {"tier": "developer", "backend": BACKEND_CERT, "max_body_bytes": 102_400},
        CertificateAuthConfig(thumbprints=tuple(f"{i:040x}" for i in range(10))),
        EntraTokenConfig(),
    ),
}


@pytest.fixture(params=sorted(SCENARIOS))
def bundle(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ApimSettings, Path]:
    data, cert, token = SCENARIOS[request.param]
    settings = parse(data, cert)
    out = tmp_path / "build" / "apim-policies"
    paths = render_bundle(settings, app_auth(cert, token), out)
    assert [p.name for p in paths] == ["api-policy.xml", "named-values.json", "README.txt"]
    return settings, out


def test_every_rendered_document_is_valid_and_keeps_base_first(
    bundle: tuple[ApimSettings, Path], policy_schema: xmlschema.XMLSchema11
) -> None:
    _, out = bundle
    text = (out / "api-policy.xml").read_text(encoding="utf-8")
    root = assert_valid(policy_schema, text)
    assert_base_first(root)
    assert_base_first(ET.fromstring(text))  # well-formed as deployed, named values and all


def test_quotes_in_expressions_are_escaped(bundle: tuple[ApimSettings, Path]) -> None:
    raw = (bundle[1] / "api-policy.xml").read_text(encoding="utf-8")
    expressions = re.findall(r">(@\(.*?\))</", raw)
    assert expressions
    assert any("&quot;" in e for e in expressions)
    assert not [e for e in expressions if '"' in e]


def test_named_values_json_lists_exactly_what_the_policy_references(
    bundle: tuple[ApimSettings, Path],
) -> None:
    settings, out = bundle
    entries = json.loads((out / "named-values.json").read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    for entry in entries:
        assert set(entry) == {"name", "secret", "description", "keyVaultSecretName"}
        assert isinstance(entry["description"], str) and entry["description"]
        assert isinstance(entry["keyVaultSecretName"], str) == entry["secret"]
    referenced = set(NAMED_VALUE_REF.findall((out / "api-policy.xml").read_text()))
    assert {e["name"] for e in entries} == referenced
    assert len(entries) == len(settings.named_values)


def test_the_client_certificate_header_is_overridden_never_skipped(
    bundle: tuple[ApimSettings, Path],
) -> None:
    settings, out = bundle
    root = ET.parse(out / "api-policy.xml").getroot()
    headers = [h for h in root.iter("set-header") if h.get("name") == "X-ARR-ClientCert"]
    actions = {h.get("exists-action") for h in headers}
    assert actions <= {"override", "delete"}
    if "certificate" in settings.gateway_auth:
        (set_cert,) = [h for h in headers if h.get("exists-action") == "override"]
        assert "context.Request.Certificate.RawData" in (set_cert.findtext("value") or "")
    if "basic" in settings.gateway_auth:
        assert "delete" in actions  # no verified certificate: a caller's own header is dropped


def test_on_error_answers_with_small_bodies_and_no_internal_details(
    bundle: tuple[ApimSettings, Path],
) -> None:
    settings, out = bundle
    on_error = ET.parse(out / "api-policy.xml").getroot().find("on-error")
    assert on_error is not None
    assert "LastError.Message" not in ET.tostring(on_error, encoding="unicode")
    statuses = {s.get("code") for s in on_error.iter("set-status")}
    assert {"413"} <= statuses
    if "certificate" in settings.gateway_auth:
        assert {"401", "403"} <= statuses
    if settings.rate_limit.enabled:
        assert "429" in statuses
    for body in on_error.iter("set-body"):
        text = body.text or ""
        if not text.startswith("@"):
            assert json.loads(text)["status"] in (401, 403, 413, 429)


def test_backend_credential_matches_the_configuration(bundle: tuple[ApimSettings, Path]) -> None:
    settings, out = bundle
    root = ET.parse(out / "api-policy.xml").getroot()
    inbound = root.find("inbound")
    assert inbound is not None
    if settings.backend.auth == "certificate":
        (auth,) = inbound.iter("authentication-certificate")
        assert auth.get("certificate-id") == settings.backend.certificate_id
        assert not list(inbound.iter("authentication-basic"))
    else:
        (auth,) = inbound.iter("authentication-basic")
        assert auth.get("password") == f"{{{{{settings.backend.password_named_value}}}}}"
    rate = list(inbound.iter("rate-limit-by-key"))
    assert len(rate) == int(settings.rate_limit.enabled)


# --- the app and the gateway accept the same certificates ---------------------------------

CERT_TOML = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/8"]
thumbprints = {thumbprints}
pin_files = {pin_files}
[apim]
tier = "standard"
[apim.backend]
url = "https://connector.azurewebsites.net"
auth = "certificate"
certificate_id = "connector-client"
"""


def app_accepted_pins(cert: CertificateAuthConfig) -> set[str]:
    """What the app accepts, by the app's own helpers: pins plus both hashes of each pin file."""
    pins = {normalise_thumbprint(t) for t in cert.thumbprints}
    for path in cert.pin_files:
        for c in load_certificate_file(path):
            pins |= cert_pins(c)
    return pins


def test_gateway_thumbprints_equal_the_apps(tmp_path: Path) -> None:
    a, b, c, d = (make_cert(n) for n in "abcd")
    pem = write_pem(tmp_path / "pins.pem", b, c)
    der = write_der(tmp_path / "d.cer", d)
    toml = CERT_TOML.format(
        thumbprints=json.dumps([sha1(a).upper(), sha256(b)]), pin_files=json.dumps([pem, der])
    )
    config = parse_config(tomllib.loads(toml), "connector.toml", {})
    assert isinstance(config.apim, ApimSettings)
    render_bundle(config.apim, config.auth, tmp_path / "out")
    root = ET.parse(tmp_path / "out" / "api-policy.xml").getroot()
    gateway = {e.get("thumbprint") for e in root.iter("identity")}
    accepted = app_accepted_pins(config.auth.certificate)
    assert gateway == {p.upper() for p in accepted if len(p) == 40}
    assert gateway == {sha1(x).upper() for x in (a, b, c, d)}


def test_a_sha256_pin_without_its_file_stops_the_configuration(tmp_path: Path) -> None:
    toml = CERT_TOML.format(thumbprints=json.dumps([sha256(make_cert("x"))]), pin_files="[]")
    with pytest.raises(
        ConfigError,
        match=r"connector\.toml: auth\.certificate\.thumbprints\[0\]"
        r": SHA-256 pin",
    ):
        parse_config(tomllib.loads(toml), "connector.toml", {})


# --- no literal secret ---------------------------------------------------------------------

SECRET_TOML = """
environment = "production"
[auth]
methods = ["basic", "certificate"]
[[auth.basic.credentials]]
username = "apim"
password_env = "TEST_BASIC_PASSWORD"
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/8"]
thumbprints = ["{pin}"]
[apim]
tier = "premium"
gateway_auth = ["certificate", "basic"]
gateway_basic_named_values = ["entra-basic"]
[apim.backend]
url = "https://connector.azurewebsites.net"
auth = "basic"
username_named_value = "connector-backend-username"
password_named_value = "connector-backend-password"
"""


def test_no_literal_secret_reaches_the_bundle(tmp_path: Path) -> None:
    config = parse_config(
        tomllib.loads(SECRET_TOML.format(pin="ab" * 20)),
        "c.toml",
        {"TEST_BASIC_PASSWORD": PASSWORD},
    )
    assert isinstance(config.apim, ApimSettings)
    paths = render_bundle(config.apim, config.auth, tmp_path / "out")
    encoded = base64.b64encode(f"apim:{PASSWORD}".encode()).decode()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert PASSWORD not in text and encoded not in text, path.name
    root = ET.parse(tmp_path / "out" / "api-policy.xml").getroot()
    named = re.compile(r"^(Basic )?\{\{[A-Za-z0-9._-]+\}\}$")
    secrets = [e.get("password") for e in root.iter("authentication-basic")]
    secrets += [v.text for h in root.iter("check-header") for v in h.iter("value")]
    assert secrets and all(named.match(s or "") for s in secrets)


# --- all or nothing ------------------------------------------------------------------------

GOOD = (
    {"tier": "standard", "backend": BACKEND_CERT},
    CertificateAuthConfig(thumbprints=("ab" * 20,)),
)
ELEVEN = CertificateAuthConfig(thumbprints=tuple(f"{i:040x}" for i in range(11)))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_a_failing_render_writes_nothing(tmp_path: Path) -> None:
    settings = parse(*GOOD)
    out = tmp_path / "build" / "apim-policies"
    with pytest.raises(ConfigError, match=r"auth\.certificate: 11 certificate identities"):
        render_bundle(settings, app_auth(ELEVEN), out)
    assert not (tmp_path / "build").exists()


def test_a_failing_render_keeps_the_previous_bundle(tmp_path: Path) -> None:
    settings = parse(*GOOD)
    out = tmp_path / "apim-policies"
    render_bundle(settings, app_auth(GOOD[1]), out)
    before = snapshot(out)
    with pytest.raises(ConfigError, match="at most 10"):
        render_bundle(settings, app_auth(ELEVEN), out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apim-policies"]


def test_a_failing_write_leaves_no_partial_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = parse(*GOOD)
    out = tmp_path / "apim-policies"
    render_bundle(settings, app_auth(GOOD[1]), out)
    before = snapshot(out)
    real_write: Callable[..., int] = Path.write_text

    def flaky(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "named-values.json":
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", flaky)
    with pytest.raises(ToolError, match="cannot write the bundle: No space left"):
        render_bundle(settings, app_auth(GOOD[1]), out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apim-policies"]


def test_a_directory_with_foreign_files_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("mine")
    with pytest.raises(ToolError, match=r"refusing to replace it, it holds 'notes\.md'"):
        render_bundle(parse(*GOOD), app_auth(GOOD[1]), tmp_path)
    assert snapshot(tmp_path) == {"notes.md": b"mine"}


def test_a_new_render_replaces_the_whole_bundle(tmp_path: Path) -> None:
    out = tmp_path / "apim-policies"
    out.mkdir()
    (out / "operation-retired.xml").write_text("<policies/>")
    render_bundle(parse(*GOOD), app_auth(GOOD[1]), out)
    assert sorted(snapshot(out)) == ["README.txt", "api-policy.xml", "named-values.json"]


# --- the template engine -------------------------------------------------------------------


def test_undefined_template_values_fail_loudly() -> None:
    env = render_mod._environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("<a>[[ missing ]]</a>").render()


def test_apim_named_value_syntax_is_left_alone() -> None:
    env = render_mod._environment()
    assert env.from_string("<a>{{nv}} [[ x ]]</a>").render(x="&") == "<a>{{nv}} &amp;</a>"


def test_interpolated_names_are_xml_escaped(
    policy_schema: xmlschema.XMLSchema11, tmp_path: Path
) -> None:
    cert = CertificateAuthConfig(ca_bundle="ca.pem", subjects=('CN=R&D \\<lab\\>,O=A\\"B',))
    settings = parse(
        {
            "tier": "premium",
            "backend": BACKEND_CERT,
            "client_certificate": {"validate_trust": True},
        },
        cert,
    )
    render_bundle(settings, app_auth(cert), tmp_path / "out")
    text = (tmp_path / "out" / "api-policy.xml").read_text(encoding="utf-8")
    root = assert_valid(policy_schema, text)
    (identity,) = root.iter("identity")
    assert identity.get("subject") == 'CN="R&D <lab>", O="A""B"'


def test_templates_carry_a_snippet_style_header() -> None:
    for template in sorted(render_mod.TEMPLATES.glob("*.j2")):
        text = template.read_text(encoding="utf-8")
        head = re.split(r"<policies>|\[% macro", text, maxsplit=1)[0]
        for part in ("Purpose:", "Scope:", "Named values required:", "Side effects:"):
            assert part in head, f"{template.name} lacks {part}"


def test_the_header_states_the_tier_on_a_line_of_its_own(bundle: tuple[ApimSettings, Path]) -> None:
    # infra/policy_checks.py compares this line with the deployed apimSkuName.
    settings, out = bundle
    text = (out / "api-policy.xml").read_text(encoding="utf-8")
    header = text.split("<policies>", 1)[0]
    assert re.search(rf"^\s*Tier: {settings.tier}\.\s*$", header, flags=re.MULTILINE)
