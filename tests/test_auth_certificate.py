"""CertificateAuth and its policies, without a server: every rejection says why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.auth.certificate import CertificateAuth
from app.auth.certpolicy import (
    ChainPolicy,
    EkuPolicy,
    PinPolicy,
    SubjectPolicy,
    ValidityPolicy,
)
from app.config.model import CertificateAuthConfig
from app.errors import CertificateError, ConfigError
from tests import pki

NOW = datetime.now(UTC)


class FakeTlsSocket:
    """What gunicorn puts in environ["gunicorn.socket"] for a TLS connection."""

    def __init__(self, der: bytes | None, peer: str = "127.0.0.1") -> None:
        self.der, self.peer = der, peer

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        assert binary_form
        return self.der

    def getpeername(self) -> tuple[str, int]:
        return (self.peer, 50000)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.root_ca("CN=Contoso Test Root")


@pytest.fixture(scope="module")
def entra() -> pki.Issued:
    """Shaped like the seed's New-SelfSignedCertificate recipe: RSA 2048, no SAN, both EKUs."""
    return pki.leaf("CN=api.contoso", san=None, eku="both", key_type="rsa2048")


@pytest.fixture(scope="module")
def issued(ca: pki.Issued) -> pki.Issued:
    """Shaped like a Key Vault certificate from a CA: no SAN, both EKUs, two key usages."""
    return pki.leaf(
        "CN=api.contoso",
        issuer=ca,
        san=None,
        eku="both",
        key_usage=("digital_signature", "key_encipherment"),
    )


def tls_environ(cert: pki.Issued | None, **extra: str) -> dict[str, Any]:
    return {"gunicorn.socket": FakeTlsSocket(cert.der if cert else None), **extra}


def pinned(*certs: pki.Issued, **options: Any) -> CertificateAuthConfig:
    return CertificateAuthConfig(thumbprints=tuple(c.sha256.lower() for c in certs), **options)


# --- policies, one by one -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"not_after": pki.ago(1)}, r"^expired: expected notAfter at or after now .* got notAfter"),
        ({"not_before": pki.from_now(1)}, r"^not yet valid: expected notBefore at or before now"),
    ],
)
def test_validity_rejects_outside_the_window(options: dict[str, Any], reason: str) -> None:
    cert = pki.leaf(**options).cert
    with pytest.raises(CertificateError, match=reason):
        ValidityPolicy(timedelta(seconds=300)).verify(cert, NOW, ())


def test_validity_allows_small_clock_skew() -> None:
    cert = pki.leaf(not_before=NOW + timedelta(seconds=60)).cert
    ValidityPolicy(timedelta(seconds=300)).verify(cert, NOW, ())
    with pytest.raises(CertificateError, match="not yet valid"):
        ValidityPolicy(timedelta(seconds=30)).verify(cert, NOW, ())


@pytest.mark.parametrize(
    ("eku", "accepted"),
    [
        ("client", True),
        ("both", True),
        ("none", True),  # no extension: any usage (RFC 5280, OpenSSL)
        ("server", False),
        ([ExtendedKeyUsageOID.CODE_SIGNING], False),
        ([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], False),  # OpenSSL refuses it too
    ],
)
def test_eku_must_include_client_auth(eku: Any, accepted: bool) -> None:
    cert = pki.leaf(eku=eku).cert
    if accepted:
        EkuPolicy().verify(cert, NOW, ())
    else:
        with pytest.raises(
            CertificateError, match=r"^wrong extended key usage: expected clientAuth"
        ):
            EkuPolicy().verify(cert, NOW, ())


def test_pins_accept_sha1_or_sha256_and_name_both_when_unknown(entra: pki.Issued) -> None:
    PinPolicy(frozenset({entra.sha1.lower()})).verify(entra.cert, NOW, ())
    PinPolicy(frozenset({entra.sha256.lower()})).verify(entra.cert, NOW, ())
    other = pki.impostor(entra)
    with pytest.raises(CertificateError, match="unknown pin") as info:
        PinPolicy(frozenset({entra.sha256.lower()})).verify(other.cert, NOW, ())
    assert other.sha256 in str(info.value) and other.sha1 in str(info.value)


def test_chain_accepts_entra_and_key_vault_shapes(
    ca: pki.Issued, entra: pki.Issued, issued: pki.Issued
) -> None:
    policy = ChainPolicy([ca.cert, entra.cert])
    policy.verify(issued.cert, NOW, ())  # no SAN: relaxed from the Web PKI default
    policy.verify(entra.cert, NOW, ())  # self-signed, listed in the bundle itself
    intermediate = pki.intermediate_ca(ca)
    below = pki.leaf("CN=api.contoso", issuer=intermediate, san=None)
    policy.verify(below.cert, NOW, [intermediate.cert])


@pytest.mark.parametrize(
    ("make", "detail"),
    [
        (lambda ca, entra: pki.leaf("CN=api.contoso", issuer=pki.root_ca()), "CN=Test Root CA"),
        (lambda ca, entra: pki.impostor(entra), ""),
        (lambda ca, entra: pki.leaf("CN=x", issuer=pki.intermediate_ca(ca)), ""),  # no chain sent
    ],
    ids=["wrong-ca", "self-signed-impostor", "missing-intermediate"],
)
def test_chain_rejects_what_does_not_reach_an_anchor(
    ca: pki.Issued, entra: pki.Issued, make: Any, detail: str
) -> None:
    with pytest.raises(
        CertificateError, match=rf"^untrusted chain: expected a chain to one of 2 .*{detail}"
    ):
        ChainPolicy([ca.cert, entra.cert]).verify(make(ca, entra).cert, NOW, ())


def test_subject_and_issuer_compare_without_case_or_spacing(issued: pki.Issued) -> None:
    SubjectPolicy(["cn=API.contoso"], ["CN=Contoso  Test Root"]).verify(issued.cert, NOW, ())
    with pytest.raises(
        CertificateError,
        match=r"^wrong subject: expected one of \['CN=other'\], got 'CN=api.contoso'",
    ):
        SubjectPolicy(["CN=other"], []).verify(issued.cert, NOW, ())
    with pytest.raises(CertificateError, match=r"^wrong issuer: .* got 'CN=Contoso Test Root'"):
        SubjectPolicy([], ["CN=Other Root"]).verify(issued.cert, NOW, ())


# --- CertificateAuth from the TLS socket ------------------------------------------------------


def test_tls_pinned_certificate_gives_thumbprint_and_days_left(entra: pki.Issued) -> None:
    auth = CertificateAuth(pinned(entra))
    principal = auth.authenticate(tls_environ(entra))
    assert principal is not None
    assert (principal.method, principal.subject) == ("certificate", "CN=api.contoso")
    assert principal.thumbprint == entra.sha256
    assert principal.days_left in (28, 29)  # pki leaves: valid since an hour ago, 30 days
    assert ("cert_sha1", entra.sha1) in principal.extra


def test_old_and_new_pins_both_accepted_during_rollover(entra: pki.Issued) -> None:
    new = pki.leaf("CN=api.contoso", san=None, eku="both")
    config = CertificateAuthConfig(thumbprints=(entra.sha1.lower(), new.sha256.lower()))
    auth = CertificateAuth(config)
    assert auth.authenticate(tls_environ(entra)) is not None
    assert auth.authenticate(tls_environ(new)) is not None


def test_no_certificate_is_none_so_other_methods_decide(entra: pki.Issued) -> None:
    auth = CertificateAuth(pinned(entra))
    assert auth.authenticate(tls_environ(None)) is None
    assert auth.authenticate({"REMOTE_ADDR": "127.0.0.1"}) is None  # plain HTTP, no socket


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda e: pki.leaf("CN=api.contoso", san=None, not_after=pki.ago(2)), "expired"),
        (lambda e: pki.leaf("CN=api.contoso", not_before=pki.from_now(2)), "not yet valid"),
        (lambda e: pki.impostor(e, eku="both"), "unknown pin"),
        (lambda e: pki.leaf("CN=api.contoso", eku="server"), "wrong extended key usage"),
    ],
    ids=["expired", "not-yet-valid", "impostor", "server-eku"],
)
def test_tls_rejections_say_why(entra: pki.Issued, make: Any, reason: str) -> None:
    bad = make(entra)
    auth = CertificateAuth(pinned(entra, bad) if reason != "unknown pin" else pinned(entra))
    with pytest.raises(
        CertificateError,
        match=rf"^{reason}: .*\[tls certificate 'CN=api.contoso', SHA-256 {bad.sha256}\]",
    ):
        auth.authenticate(tls_environ(bad))


def test_cache_still_rechecks_the_validity_window(entra: pki.Issued) -> None:
    clock = Clock()
    auth = CertificateAuth(pinned(entra), clock=clock)
    assert auth.authenticate(tls_environ(entra)) is not None
    clock.now = entra.cert.not_valid_after_utc + timedelta(seconds=301)
    with pytest.raises(CertificateError, match=r"^expired"):
        auth.authenticate(tls_environ(entra))


def test_cache_hit_skips_the_expensive_policies(
    entra: pki.Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = CertificateAuth(pinned(entra))
    calls: list[str] = []
    original = PinPolicy.verify

    def counting(self: PinPolicy, *args: Any) -> None:
        calls.append("pin")
        original(self, *args)

    monkeypatch.setattr(PinPolicy, "verify", counting)
    for _ in range(3):
        auth.authenticate(tls_environ(entra))
    assert calls == ["pin"]


# --- configuration ----------------------------------------------------------------------------


def test_nothing_trusted_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="an empty pin list would accept any certificate"):
        CertificateAuth(CertificateAuthConfig())


@pytest.mark.parametrize(
    ("field", "content", "message"),
    [
        (
            "ca_bundle",
            b"not a certificate",
            r"auth.certificate.ca_bundle: .* holds no PEM certificate",
        ),
        ("pin_files", b"", r"auth.certificate.pin_files\[0\]: .* is empty"),
        (
            "ca_bundle",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            r"auth.certificate.ca_bundle: .* damaged or truncated",
        ),
    ],
)
def test_bad_trust_files_name_the_key(
    tmp_path: Path, field: str, content: bytes, message: str
) -> None:
    path = tmp_path / "file.pem"
    path.write_bytes(content)
    value: Any = str(path) if field == "ca_bundle" else (str(path),)
    with pytest.raises(ConfigError, match=message):
        CertificateAuth(replace(CertificateAuthConfig(), **{field: value}))


def test_pin_files_pin_their_certificates(tmp_path: Path, entra: pki.Issued) -> None:
    path = pki.write_pem(tmp_path / "entra.cer.pem", entra.cert)
    auth = CertificateAuth(CertificateAuthConfig(pin_files=(str(path),)))
    assert auth.authenticate(tls_environ(entra)) is not None
    with pytest.raises(CertificateError, match="unknown pin"):
        auth.authenticate(tls_environ(pki.impostor(entra)))


# --- expiry -------------------------------------------------------------------------------------


def test_expiring_certificate_warns_once_per_day_and_shows_in_readiness(
    entra: pki.Issued, events: list[tuple[str, dict[str, Any]]]
) -> None:
    clock = Clock()
    auth = CertificateAuth(pinned(entra, expiry_warning_days=40), clock=clock)
    for _ in range(3):
        auth.authenticate(tls_environ(entra))
    warnings = [f for name, f in events if name == "auth.certificate.expiring"]
    assert len(warnings) == 1 and warnings[0]["cert_thumbprint"] == entra.sha256
    clock.now = NOW + timedelta(days=1)
    auth.authenticate(tls_environ(entra))
    assert len([n for n, _ in events if n == "auth.certificate.expiring"]) == 2
    ok, details = auth.monitor.readiness()
    assert ok and details["expiring"][0]["sha256"] == entra.sha256
    assert details["expiring"][0]["days_left"] in (27, 28)


def test_certificate_outside_the_window_is_quiet(
    entra: pki.Issued, events: list[tuple[str, dict[str, Any]]]
) -> None:
    auth = CertificateAuth(pinned(entra, expiry_warning_days=7))
    auth.authenticate(tls_environ(entra))
    assert not [n for n, _ in events if n == "auth.certificate.expiring"]
    assert auth.monitor.readiness() == (True, {"window_days": 7, "expiring": []})


def test_configured_files_expiring_show_before_any_request(tmp_path: Path, ca: pki.Issued) -> None:
    soon = pki.leaf("CN=api.contoso", not_after=pki.from_now(3))
    path = pki.write_pem(tmp_path / "soon.pem", soon.cert)
    auth = CertificateAuth(CertificateAuthConfig(pin_files=(str(path),), expiry_warning_days=30))
    _, details = auth.monitor.readiness()
    assert [(e["sha256"], e["source"]) for e in details["expiring"]] == [
        (soon.sha256, "auth.certificate.pin_files[0]")
    ]
