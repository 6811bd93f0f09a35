"""Forwarded client certificates: header formats, whose word counts, and the app's answers."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from app.auth.certificate import CertificateAuth
from app.auth.forwarded import ProxyTrust, parse_forwarded, peer_address
from app.config.model import CertificateAuthConfig
from app.errors import CertificateError
from tests import pki
from tests.conftest import build_config
from tests.support import basic

HEADER = "X-ARR-ClientCert"
ENV_KEY = "HTTP_X_ARR_CLIENTCERT"
URL = "/api/connector/post-attribute-collection"


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.root_ca("CN=Contoso Test Root")


@pytest.fixture(scope="module")
def client_cert(ca: pki.Issued) -> pki.Issued:
    intermediate = pki.intermediate_ca(ca)
    return pki.leaf("CN=api.contoso", issuer=intermediate, san=None, eku="both")


def b64(issued: pki.Issued) -> str:
    return base64.b64encode(issued.der).decode()


# --- header formats ---------------------------------------------------------------------------

FORMATS: dict[str, Callable[[pki.Issued], str]] = {
    "base64 DER (App Service)": b64,
    "RFC 9440 byte sequence": lambda c: f":{b64(c)}:",
    "PEM": lambda c: c.cert_pem.decode(),
    "PEM, line breaks as spaces": lambda c: c.cert_pem.decode().replace("\n", " "),
    "PEM, nginx $ssl_client_cert tabs": lambda c: c.cert_pem.decode().replace("\n", "\n\t"),
    "URL-escaped PEM (nginx)": lambda c: quote(c.cert_pem.decode(), safe=""),
    "URL-escaped PEM, '/' and '+' kept": lambda c: quote(c.cert_pem.decode(), safe="/+"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_front_end_format_gives_the_same_leaf(client_cert: pki.Issued, fmt: str) -> None:
    parsed = parse_forwarded(FORMATS[fmt](client_cert), HEADER)
    assert parsed is not None and parsed.der == client_cert.der and parsed.intermediates == ()


def test_pem_chain_after_the_leaf_becomes_intermediates(client_cert: pki.Issued) -> None:
    parsed = parse_forwarded(quote(client_cert.chain_pem.decode()), HEADER)
    assert parsed is not None and parsed.leaf == client_cert.cert
    assert parsed.intermediates == client_cert.chain


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_value_is_no_certificate(value: str) -> None:
    assert parse_forwarded(value, HEADER) is None


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("garbage!!", r"the value is not valid base64 \('garbage!!'\)"),
        (
            base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),
            "base64 of 5 bytes that are not a DER",
        ),
        ("-----BEGIN CERTIFICATE-----", "a PEM marker without a complete certificate block"),
        (
            "-----BEGIN CERTIFICATE-----\nMIIB$$\n-----END CERTIFICATE-----",
            "a PEM block is not valid base64",
        ),
        ("-----BEGIN CERTIFICATE----------END CERTIFICATE-----", "a PEM block decodes to nothing"),
        ("A" * 20000, "20000 characters, over the limit of 16384"),
        ("MIIBéé", "the value is not valid base64"),
        ("%ZZ%GG", "the value is not valid base64"),
        ("%C3%28", "the value is not valid base64"),  # an escape that is not UTF-8
        ("MIIB,MIIC", "the value is not valid base64"),  # a header sent twice, joined by gunicorn
    ],
)
def test_malformed_values_are_certificate_errors(value: str, got: str) -> None:
    with pytest.raises(CertificateError, match=rf"^malformed forwarded header {HEADER}: .*{got}"):
        parse_forwarded(value, HEADER)


def test_too_many_certificates_are_refused(client_cert: pki.Issued) -> None:
    with pytest.raises(CertificateError, match="5 certificates, at most 4 expected"):
        parse_forwarded(client_cert.cert_pem.decode() * 5, HEADER)


@given(st.text(max_size=300))
def test_any_text_is_a_certificate_none_or_a_certificate_error(value: str) -> None:
    with contextlib.suppress(CertificateError):  # anything else (a 500) fails the test
        parse_forwarded(value, HEADER)


# --- whose word counts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidrs", "peer", "trusted"),
    [
        (["10.0.0.0/24"], "10.0.0.7", True),
        (["10.0.0.0/24"], "10.0.1.7", False),
        (["10.0.0.5"], "::ffff:10.0.0.5", True),  # dual-stack listener
        (["2001:db8::/32"], "2001:db8::1", True),
        (["10.0.0.0/8"], None, False),  # Unix socket or no socket
        (["10.0.0.0/8"], "not-an-ip", False),
        ([], "10.0.0.7", False),
    ],
)
def test_proxy_trust(cidrs: list[str], peer: str | None, trusted: bool) -> None:
    assert ProxyTrust(cidrs, any_peer=False).trusts(peer) is trusted


def test_any_peer_is_an_explicit_statement() -> None:
    assert ProxyTrust([], any_peer=True).trusts(None)


class Socket:
    def __init__(self, name: Any) -> None:
        self.name = name

    def getpeername(self) -> Any:
        if isinstance(self.name, Exception):
            raise self.name
        return self.name


@pytest.mark.parametrize(
    ("environ", "peer"),
    [
        ({"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),  # no socket: test client, other servers
        ({"gunicorn.socket": Socket(("10.0.0.2", 1)), "REMOTE_ADDR": "10.0.0.9"}, "10.0.0.2"),
        ({"gunicorn.socket": Socket(OSError("closed")), "REMOTE_ADDR": "10.0.0.9"}, None),
        ({"gunicorn.socket": Socket(""), "REMOTE_ADDR": "10.0.0.9"}, None),  # Unix socket
    ],
)
def test_peer_comes_from_the_socket_not_from_headers(environ: dict[str, Any], peer: str) -> None:
    environ["HTTP_X_FORWARDED_FOR"] = "10.0.0.1"
    assert peer_address(environ) == peer


# --- CertificateAuth with a forwarded header --------------------------------------------------


def forwarding(ca: pki.Issued, **options: Any) -> CertificateAuthConfig:
    return CertificateAuthConfig(
        sources=options.pop("sources", ("forwarded",)),
        trusted_proxies=("10.0.0.0/24",),
        **options,
    )


@pytest.fixture
def chain_auth(ca: pki.Issued, tmp_path: Any) -> CertificateAuth:
    bundle = pki.write_pem(tmp_path / "ca.pem", ca.cert)
    return CertificateAuth(forwarding(ca, ca_bundle=str(bundle), subjects=("CN=api.contoso",)))


def test_trusted_proxy_header_is_validated_with_its_chain(
    chain_auth: CertificateAuth, client_cert: pki.Issued
) -> None:
    value = quote(client_cert.chain_pem.decode())
    principal = chain_auth.authenticate({"REMOTE_ADDR": "10.0.0.4", ENV_KEY: value})
    assert principal is not None and principal.thumbprint == client_cert.sha256
    assert ("cert_source", "forwarded") in principal.extra


def test_untrusted_peer_header_is_ignored_logged_and_rejected(
    chain_auth: CertificateAuth,
    client_cert: pki.Issued,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    environ = {"REMOTE_ADDR": "192.0.2.9", ENV_KEY: "not even parsed"}
    with pytest.raises(CertificateError, match=r"^forged header: .*peer 192.0.2.9 is not in"):
        chain_auth.authenticate(environ)
    [(_, fields)] = [e for e in events if e[0] == "auth.certificate.forged_header"]
    assert fields["message"].startswith("possible forgery") and fields["peer"] == "192.0.2.9"


def test_header_is_not_believed_when_forwarded_is_not_a_source(
    ca: pki.Issued, client_cert: pki.Issued
) -> None:
    auth = CertificateAuth(
        forwarding(ca, sources=("tls",), thumbprints=(client_cert.sha256.lower(),))
    )
    with pytest.raises(CertificateError, match=r'forged header: .*"forwarded" is not in sources'):
        auth.authenticate({"REMOTE_ADDR": "10.0.0.4", ENV_KEY: b64(client_cert)})


def test_malformed_header_from_a_trusted_proxy_is_a_certificate_error(
    chain_auth: CertificateAuth,
) -> None:
    with pytest.raises(CertificateError, match=r"^malformed forwarded header"):
        chain_auth.authenticate({"REMOTE_ADDR": "10.0.0.4", ENV_KEY: "%%%"})


def test_tls_and_forwarded_both_validated_forwarded_names_the_caller(
    ca: pki.Issued, client_cert: pki.Issued
) -> None:
    proxy = pki.leaf("CN=apim.contoso", eku="client")
    pins = (client_cert.sha256.lower(), proxy.sha256.lower())
    auth = CertificateAuth(forwarding(ca, sources=("tls", "forwarded"), thumbprints=pins))

    class Tls:
        def getpeercert(self, binary_form: bool) -> bytes:
            return proxy.der

        def getpeername(self) -> tuple[str, int]:
            return ("10.0.0.4", 1)

    principal = auth.authenticate({"gunicorn.socket": Tls(), ENV_KEY: b64(client_cert)})
    assert principal is not None and principal.thumbprint == client_cert.sha256
    assert ("peer_cert_thumbprint", proxy.sha256) in principal.extra


# --- through the app: 403 says nothing, the log says why --------------------------------------

APP_TOML = """
environment = "production"
[auth]
methods = ["basic", "certificate"]
[[auth.basic.credentials]]
username = "entra"
password_env = "TEST_BASIC_PASSWORD"
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/24"]
thumbprints = ["{pin}"]
"""


@pytest.fixture
def app_client(client_cert: pki.Issued) -> FlaskClient:
    config = build_config(APP_TOML.format(pin=client_cert.sha1))
    return create_app(config, TESTING=True).test_client()


def call(client: FlaskClient, peer: str, **headers: str) -> tuple[int, dict[str, Any]]:
    resp = client.post(
        URL,
        json={"email": "ada@contoso.com"},
        headers=headers,
        environ_base={"REMOTE_ADDR": peer},
    )
    return resp.status_code, json.loads(resp.data)


def test_app_accepts_a_trusted_forwarded_certificate(
    app_client: FlaskClient, client_cert: pki.Issued, capsys: pytest.CaptureFixture[str]
) -> None:
    status, body = call(app_client, "10.0.0.4", **{HEADER: b64(client_cert)})
    assert status == 200 and body["action"] == "Continue"
    decision = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"decision"' in x]
    assert decision[-1]["cert_thumbprint"] == client_cert.sha256
    assert decision[-1]["cert_days_left"] in (28, 29)


@pytest.mark.parametrize(
    ("peer", "value", "reason"),
    [
        ("192.0.2.9", "ok", "forged header"),
        ("10.0.0.4", "garbage!!", "malformed forwarded header"),
        ("10.0.0.4", "impostor", "unknown pin"),
    ],
)
def test_app_rejections_are_bare_403s_with_the_reason_logged(
    app_client: FlaskClient,
    client_cert: pki.Issued,
    capsys: pytest.CaptureFixture[str],
    peer: str,
    value: str,
    reason: str,
) -> None:
    if value == "ok":
        value = b64(client_cert)
    elif value == "impostor":
        value = b64(pki.impostor(client_cert))
    status, body = call(app_client, peer, **{HEADER: value})
    assert status == 403
    assert body == {"type": "about:blank", "title": "Forbidden", "status": 403}
    rejected = [json.loads(x) for x in capsys.readouterr().err.splitlines() if "auth.rejected" in x]
    assert rejected[-1]["reason"].startswith(reason)


def test_forged_header_does_not_stop_basic_auth(
    app_client: FlaskClient, client_cert: pki.Issued
) -> None:
    status, body = call(app_client, "192.0.2.9", **{HEADER: b64(client_cert)}, **basic())
    assert status == 200 and body["action"] == "Continue"
