"""Properties of the forwarded-certificate parser and the proxy trust check.

Any header value gives None, a certificate, or a CertificateError whose message shows at
most a short preview. Every format a front end uses (base64 DER, RFC 9440, PEM with its
line breaks mangled, URL-escaped PEM, a chain after the leaf) gives back the same leaf,
byte for byte. A damaged value fails cleanly, or (a harmless change such as a stray ':')
is reported as exactly the DER it decodes to.
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from app.auth.forwarded import ProxyTrust, parse_forwarded
from app.config import parse_config
from app.errors import CertificateError
from tests import pki
from tests.fuzzing import any_text, budget, count

pytest_plugins = ["tests.fuzz_report"]

HEADER = "X-ARR-ClientCert"
ROOT = pki.root_ca()
LEAVES = (pki.client_cert("CN=entra.contoso"), pki.client_cert("CN=chained", issuer=ROOT))


def encode(der: bytes, chain: tuple[bytes, ...], form: str, sep: str) -> str:
    """`der` (and `chain`) as one front end or another would forward it."""
    b64 = base64.b64encode(der).decode()
    if form == "der":
        return b64
    if form == "rfc9440":
        return f":{b64}:"
    pem = "".join(
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(re.findall(".{1,64}", base64.b64encode(d).decode()))
        + "\n-----END CERTIFICATE-----\n"
        for d in (der, *chain)
    )
    if form == "escaped":
        return quote(pem, safe="")
    return pem.replace("\n", sep)


@budget(200)
@given(
    which=st.sampled_from(LEAVES),
    form=st.sampled_from(["der", "rfc9440", "pem", "escaped"]),
    sep=st.sampled_from(["\n", " ", "\t", "\r\n", "  "]),
    with_chain=st.booleans(),
    pad=st.sampled_from(["", " ", "\t"]),
)
def test_every_format_gives_back_the_same_leaf(
    which: pki.Issued, form: str, sep: str, with_chain: bool, pad: str
) -> None:
    count("forwarded: formats round trip")
    chain = tuple(pki.Issued(c, which.key).der for c in which.chain) if with_chain else ()
    multi = form in ("pem", "escaped")
    value = pad + encode(which.der, chain if multi else (), form, sep) + pad
    got = parse_forwarded(value, HEADER)
    assert got is not None and got.der == which.der and got.leaf == which.cert
    assert len(got.intermediates) == (len(chain) if multi else 0)


def check_clean(value: str) -> None:
    try:
        got = parse_forwarded(value, HEADER)
    except CertificateError as exc:
        message = str(exc)
        assert message.startswith(f"malformed forwarded header {HEADER}")
        assert len(message) < 300  # a preview at most, never the whole value
        return
    if got is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        assert got.leaf.public_bytes(Encoding.DER) == got.der
    else:
        assert value.strip() == ""


@budget(400)
@given(value=st.one_of(any_text, st.text(max_size=400), st.binary(max_size=300).map(
    lambda b: base64.b64encode(b).decode())))  # fmt: skip
def test_arbitrary_values_are_rejected_cleanly(value: str) -> None:
    count("forwarded: arbitrary values")
    check_clean(value)


@budget(300)
@given(
    which=st.sampled_from(LEAVES),
    form=st.sampled_from(["der", "rfc9440", "pem", "escaped"]),
    data=st.data(),
)
def test_damaged_values_fail_cleanly_or_are_what_they_decode_to(
    which: pki.Issued, form: str, data: st.DataObject
) -> None:
    count("forwarded: damaged values")
    value = encode(which.der, (), form, " ")
    cut = data.draw(st.integers(0, len(value) - 1))
    how = data.draw(st.sampled_from(["truncate", "flip", "insert", "drop"]))
    if how == "truncate":
        damaged = value[:cut]
    elif how == "drop":
        damaged = value[:cut] + value[cut + 1 :]
    else:
        char = data.draw(st.sampled_from("A/+=-%:\x00é"))
        damaged = value[:cut] + char + value[cut + (how == "flip") :]
    check_clean(damaged)


def test_oversized_value_is_refused_with_its_size() -> None:
    with pytest.raises(CertificateError, match="characters, over the limit"):
        parse_forwarded("A" * 20_000, HEADER)


networks = st.one_of(
    st.ip_addresses(v=4).map(lambda a: f"{a}/{a.max_prefixlen}"),
    st.builds(lambda a, n: str(ipaddress.ip_network(f"{a}/{n}", strict=False)),
              st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, n: str(ipaddress.ip_network(f"{a}/{n}", strict=False)),
              st.ip_addresses(v=6), st.integers(0, 128)),
    st.sampled_from(["127.0.0.1/32", "10.0.0.0/8", "::1/128", "169.254.0.0/16"]),
)  # fmt: skip
peers = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["127.0.0.1", "10.1.2.3", "::1", "", "localhost", "10.0.0.1:80"]),
    st.none(),
    any_text,
)


def trusted(cidrs: list[str], peer: str | None) -> bool:
    """Oracle: the peer's address (IPv4-mapped IPv6 unwrapped) is inside a listed network."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # type: ignore[union-attr]
        address = address.ipv4_mapped  # type: ignore[union-attr]
    return any(address in ipaddress.ip_network(c) for c in cidrs)


@budget(400)
@given(cidrs=st.lists(networks, max_size=4), peer=peers)
def test_proxy_trust_agrees_with_the_oracle(cidrs: list[str], peer: str | None) -> None:
    count("forwarded: proxy trust vs oracle")
    assert ProxyTrust(cidrs, any_peer=False).trusts(peer) == trusted(cidrs, peer)
    assert ProxyTrust(cidrs, any_peer=True).trusts(peer)


def forwarded_client() -> Any:
    """The app behind a front end that forwards X-ARR-ClientCert, pinning LEAVES[0]."""
    data = {
        "auth": {
            "methods": ["certificate"],
            "certificate": {
                "sources": ["forwarded"],
                "trust_forwarded_from_any_peer": True,
                "thumbprints": [LEAVES[0].sha256],
            },
        }
    }
    with contextlib.redirect_stderr(io.StringIO()):
        app = create_app(parse_config(data, "fuzz.toml", {}), TESTING=True)
    return app.test_client()


CLIENT = forwarded_client()
IMPOSTOR = pki.impostor(LEAVES[0], eku="both")
header_values = st.one_of(
    st.builds(
        lambda which, form, sep: encode(which.der, (), form, sep),
        st.sampled_from((LEAVES[0], LEAVES[1], IMPOSTOR)),
        st.sampled_from(["der", "rfc9440", "pem", "escaped"]),
        st.sampled_from(["\n", " ", "\t"]),
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=200),
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
)


@budget(300)
@given(value=header_values)
def test_only_the_pinned_certificate_gets_through_the_app(value: str) -> None:
    count("forwarded: app behind a front end, any header value")
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        response = CLIENT.post(
            "/api/connector/post-federation-signup",
            json={"email": "ada@contoso.com"},
            headers={HEADER: value.replace("\n", " ")},  # a header value has no line breaks
        )
    assert "Traceback" not in log.getvalue() and "internal.error" not in log.getvalue()
    pinned = parse_forwarded(value.replace("\n", " "), HEADER) if _parses(value) else None
    if pinned is not None and pinned.der == LEAVES[0].der:
        assert (response.status_code, response.get_json()["action"]) == (200, "Continue")
    elif value.strip():
        assert response.status_code == 403, (response.status_code, log.getvalue())
    else:  # no certificate at all: refused (401, or 403 where only a certificate could admit)
        assert response.status_code in (401, 403)


def _parses(value: str) -> bool:
    try:
        parse_forwarded(value.replace("\n", " "), HEADER)
    except CertificateError:
        return False
    return True
