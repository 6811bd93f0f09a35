"""Client certificates end to end: the real gunicorn, real TLS handshakes, real headers.

Three servers: gunicorn terminating TLS with client certificates required (pinned
thumbprints) and optional (chain to a CA bundle, subject constraint), and plain HTTP
behind a "front end" that forwards the certificate in X-ARR-ClientCert. Every rejection
asserts its reason from the server's log (handshake failures: gunicorn's warning line;
app rejections: the auth.rejected event with the response's correlation id).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests import pki
from tests.support import Server, basic, gunicorn

pytestmark = pytest.mark.e2e
URL = "/api/connector/post-attribute-collection"
BODY = {"email": "ada@contoso.com", "ui_locales": "en-US"}
UNTRUSTED_PEER = "127.0.0.2"  # loopback too, but not in trusted_proxies


class Pki:
    """Every certificate the scenarios need, written to files once per module."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        self.server = pki.write_files(d, "server", pki.server_cert())
        self.ca = pki.root_ca("CN=Contoso Test Root")
        self.ca_file = pki.write_pem(d / "ca.pem", self.ca.cert)
        entra: dict[str, Any] = {"san": None, "eku": "both", "key_type": "rsa2048"}  # REF §2
        kv: dict[str, Any] = {"issuer": self.ca, "san": None, "eku": "both"}  # Key Vault-like
        self.certs: dict[str, pki.Issued] = {
            "entra_old": pki.leaf("CN=api.contoso", **entra),
            "entra_new": pki.leaf("CN=api.contoso", **entra),
            "issued": pki.leaf("CN=api.contoso", **kv),
            "intruder": pki.leaf("CN=intruder.contoso", **kv),
            "expired": pki.leaf("CN=api.contoso", not_after=pki.ago(2), **kv),
            "not_yet_valid": pki.leaf("CN=api.contoso", not_before=pki.from_now(2), **kv),
            "server_eku": pki.leaf("CN=api.contoso", issuer=self.ca, eku="server"),
            "wrong_ca": pki.leaf("CN=api.contoso", issuer=pki.root_ca("CN=Contoso Test Root")),
        }
        self.certs["impostor"] = pki.impostor(self.certs["entra_old"], eku="both")
        below = pki.intermediate_ca(self.ca, "CN=Contoso Issuing CA")
        self.certs["below"] = pki.leaf("CN=api.contoso", issuer=below, san=None, eku="both")
        self.files = {n: pki.write_files(d, n, c) for n, c in self.certs.items()}

    def pem(self, *names: str) -> Path:
        path = self.dir / ("-".join(names) + ".bundle.pem")
        return pki.write_pem(
            path, *(self.certs[n].cert if n in self.certs else self.ca.cert for n in names)
        )

    def client(self, name: str | None, *, send_chain: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.server.cert))
        if name:
            files = self.files[name]
            ctx.load_cert_chain(files.chain if send_chain else files.cert, files.key)
        return ctx


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("mtls"))


def tls_env(certs: Pki, mode: str, client_ca: Path) -> dict[str, str]:
    return {
        "CONNECTOR_TLS_CERT": str(certs.server.cert),
        "CONNECTOR_TLS_KEY": str(certs.server.key),
        "CONNECTOR_TLS_CLIENT_CA": str(client_ca),
        "CONNECTOR_TLS_CLIENT_CERT": mode,
    }


def request(
    server: Server,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, dict[str, Any], str]:
    """POST BODY; (status, JSON body, correlation id). Raises on a failed handshake."""
    parts = urlsplit(server.url)
    host, port = parts.hostname or "", parts.port or 0
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            host, port, context=context, timeout=5, source_address=(source, 0)
        )
        if context
        else http.client.HTTPConnection(host, port, timeout=5, source_address=(source, 0))
    )
    try:
        conn.request(
            "POST", URL, json.dumps(BODY), {"Content-Type": "application/json", **(headers or {})}
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader("X-Correlation-Id") or ""
    finally:
        conn.close()


def logged_reason(server: Server, correlation_id: str) -> str:
    """The reason of the auth.rejected event logged for one response."""
    needle = f'"correlation_id":"{correlation_id}"'
    text = server.wait_for_log(needle)
    for line in text.splitlines():
        if needle in line and '"auth.rejected"' in line:
            return str(json.loads(line)["reason"])
    raise AssertionError(f"no auth.rejected event for {correlation_id}")


def handshake_refused(server: Server, context: ssl.SSLContext, server_says: str) -> str:
    """Assert the handshake fails and gunicorn logs why; the client's error text."""
    before = len(server.log())
    with pytest.raises((ssl.SSLError, ConnectionError)) as info:
        request(server, context)
    deadline = time.monotonic() + 5
    while server_says not in server.log()[before:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server_says in server.log()[before:], server.log()[before:]
    return str(info.value)


# --- gunicorn terminates TLS, certificate required, thumbprints pinned ----------------------

PINNED = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
sources = ["tls"]
# the old one as Azure shows it (SHA-1, upper case), the new one as SHA-256 with colons
thumbprints = ["{old}", "{new}"]
"""


@pytest.fixture(scope="module")
def pinned(certs: Pki) -> Iterator[Server]:
    new = ":".join(certs.certs["entra_new"].sha256[i : i + 2] for i in range(0, 64, 2)).lower()
    config = PINNED.format(old=certs.certs["entra_old"].sha1, new=new)
    env = tls_env(certs, "required", certs.pem("entra_old", "entra_new", "ca"))
    ready = certs.client("entra_old")
    with gunicorn(config, env=env, scheme="https", ssl_context=ready, workers=2) as s:
        yield s


@pytest.mark.parametrize("name", ["entra_old", "entra_new"])
def test_old_and_new_pinned_certificates_are_accepted(
    pinned: Server, certs: Pki, name: str
) -> None:
    status, body, cid = request(pinned, certs.client(name))
    assert (status, body["action"]) == (200, "Continue")
    line = next(x for x in pinned.wait_for_log(cid).splitlines() if cid in x and '"decision"' in x)
    decision = json.loads(line)
    assert decision["cert_thumbprint"] == certs.certs[name].sha256
    assert decision["cert_days_left"] in (28, 29) and decision["auth_method"] == "certificate"


def test_resumed_sessions_still_carry_the_certificate(pinned: Server, certs: Pki) -> None:
    # One context prepared in the master (2 workers here): its tickets resume on whichever
    # worker accepts, and a resumed connection still shows the app the client certificate.
    ctx, port = certs.client("entra_new"), int(pinned.url.rsplit(":", 1)[1])
    raw_request = (
        f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(json.dumps(BODY))}\r\n\r\n"
        f"{json.dumps(BODY)}"
    ).encode()
    session, answers = None, []
    for _ in range(8):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls,
        ):
            tls.sendall(raw_request)
            data = b"".join(iter(lambda: tls.recv(65536), b""))
            answers.append((tls.session_reused, data.split(b" ", 2)[1]))
            session = tls.session
    assert answers[0] == (False, b"200")
    assert answers[1:] == [(True, b"200")] * 7
    decisions = [x for x in pinned.log().splitlines() if '"decision"' in x]
    assert sum(certs.certs["entra_new"].sha256 in x for x in decisions) >= 8


def test_chained_but_unpinned_certificate_is_a_bare_403(pinned: Server, certs: Pki) -> None:
    status, body, cid = request(pinned, certs.client("issued"))
    assert status == 403 and body == {"type": "about:blank", "title": "Forbidden", "status": 403}
    assert logged_reason(pinned, cid).startswith("unknown pin: expected one of 2 pinned")


@pytest.mark.parametrize(
    ("name", "server_says"),
    [
        ("expired", "certificate has expired"),
        ("not_yet_valid", "certificate is not yet valid"),
        ("wrong_ca", "unable to get local issuer certificate"),
        ("impostor", "self-signed certificate"),
        ("server_eku", "unsuitable certificate purpose"),
        (None, "peer did not return a certificate"),
    ],
)
def test_required_mode_refuses_in_the_handshake(
    pinned: Server, certs: Pki, name: str | None, server_says: str
) -> None:
    handshake_refused(pinned, certs.client(name), server_says)


# --- certificate optional, chain to a CA bundle with a subject constraint --------------------

CHAINED = """
environment = "production"
[auth]
methods = ["basic", "certificate"]
[[auth.basic.credentials]]
username = "entra"
password_env = "TEST_BASIC_PASSWORD"
[auth.certificate]
sources = ["tls"]
ca_bundle = "{bundle}"
subjects = ["CN=api.contoso"]
"""


@pytest.fixture(scope="module")
def chained(certs: Pki) -> Iterator[Server]:
    config = CHAINED.format(bundle=certs.ca_file)
    env = tls_env(certs, "optional", certs.ca_file)
    with gunicorn(config, env=env, scheme="https", ssl_context=certs.client(None)) as s:
        yield s


def test_ca_issued_certificate_without_san_is_accepted(chained: Server, certs: Pki) -> None:
    status, body, _ = request(chained, certs.client("issued"))
    assert (status, body["action"]) == (200, "Continue")


def test_intermediates_the_client_sends_are_used_for_the_chain(chained: Server, certs: Pki) -> None:
    # ca_bundle holds only the root: the app needs the intermediate from the handshake.
    status, body, _ = request(chained, certs.client("below", send_chain=True))
    assert (status, body["action"]) == (200, "Continue")


def test_wrong_subject_is_refused_by_the_app(chained: Server, certs: Pki) -> None:
    status, _, cid = request(chained, certs.client("intruder"))
    assert status == 403
    assert logged_reason(chained, cid).startswith(
        "wrong subject: expected one of ['CN=api.contoso']"
    )


def test_optional_without_certificate_falls_back_to_basic(chained: Server, certs: Pki) -> None:
    assert request(chained, certs.client(None), basic())[0] == 200
    status, _, cid = request(chained, certs.client(None))
    assert status == 401 and logged_reason(chained, cid).startswith("no credentials presented")


def test_optional_still_verifies_a_presented_certificate(chained: Server, certs: Pki) -> None:
    # OpenSSL aborts the handshake for a presented certificate it cannot verify, even when
    # client certificates are optional: an Entra certificate must be in CONNECTOR_TLS_CLIENT_CA.
    handshake_refused(chained, certs.client("entra_old"), "self-signed certificate")


# --- plain HTTP behind a front end that forwards the certificate ----------------------------

FORWARDED = """
environment = "production"
[auth]
methods = ["basic", "certificate"]
[[auth.basic.credentials]]
username = "entra"
password_env = "TEST_BASIC_PASSWORD"
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["127.0.0.1/32"]
ca_bundle = "{bundle}"
subjects = ["CN=api.contoso"]
"""


@pytest.fixture(scope="module")
def forwarded(certs: Pki) -> Iterator[Server]:
    with gunicorn(FORWARDED.format(bundle=certs.pem("ca", "entra_old"))) as s:
        yield s


def header(certs: Pki, name: str, fmt: str = "der") -> dict[str, str]:
    cert = certs.certs[name]
    value = (
        quote(cert.cert_pem.decode())
        if fmt == "escaped-pem"
        else base64.b64encode(cert.der).decode()
    )
    return {"X-ARR-ClientCert": value}


@pytest.mark.parametrize(("name", "fmt"), [("entra_old", "der"), ("issued", "escaped-pem")])
def test_trusted_front_end_header_is_accepted(
    forwarded: Server, certs: Pki, name: str, fmt: str
) -> None:
    status, body, cid = request(forwarded, headers=header(certs, name, fmt))
    assert (status, body["action"]) == (200, "Continue")
    assert certs.certs[name].sha256 in forwarded.wait_for_log(cid)


def test_header_from_an_untrusted_peer_is_ignored_so_rejected(
    forwarded: Server, certs: Pki
) -> None:
    status, _, cid = request(forwarded, headers=header(certs, "entra_old"), source=UNTRUSTED_PEER)
    assert status == 403
    assert logged_reason(forwarded, cid).startswith("forged header:")
    warning = forwarded.wait_for_log('"auth.certificate.forged_header"')
    assert f'"peer":"{UNTRUSTED_PEER}"' in warning and "possible forgery" in warning


def test_untrusted_header_does_not_stop_basic(forwarded: Server, certs: Pki) -> None:
    headers = {**header(certs, "entra_old"), **basic()}
    assert request(forwarded, headers=headers, source=UNTRUSTED_PEER)[0] == 200


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("expired", "expired: "),
        ("not_yet_valid", "not yet valid: "),
        ("wrong_ca", "untrusted chain: "),
        ("impostor", "untrusted chain: "),
        ("server_eku", "wrong extended key usage: "),
        ("intruder", "wrong subject: "),
    ],
)
def test_forwarded_rejections_say_why(
    forwarded: Server, certs: Pki, name: str, reason: str
) -> None:
    status, _, cid = request(forwarded, headers=header(certs, name))
    assert status == 403
    assert logged_reason(forwarded, cid).startswith(reason)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("garbage!!", "the value is not valid base64"),
        (base64.b64encode(b"hello world").decode(), "not a DER certificate"),
        ("-----BEGIN%20CERTIFICATE-----%0AMIIB", "a PEM marker without a complete"),
        ("A" * 8000, "6000 bytes that are not a DER certificate"),
        ("%FF%FE", "the value is not valid base64"),
    ],
)
def test_malformed_forwarded_headers_are_403_never_500(
    forwarded: Server, value: str, got: str
) -> None:
    status, body, cid = request(forwarded, headers={"X-ARR-ClientCert": value})
    assert status == 403 and body["status"] == 403
    reason = logged_reason(forwarded, cid)
    assert reason.startswith("malformed forwarded header X-ARR-ClientCert") and got in reason
