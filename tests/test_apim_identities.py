"""Gateway identities derived from [auth.certificate]: SHA-1 mapping, names, the 10 limit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.apim.identities import dotnet_name, gateway_identities
from app.config.model import CertificateAuthConfig
from app.errors import ConfigError

_KEY = ec.generate_private_key(ec.SECP256R1())  # one key: certificates differ by name and serial


def make_cert(cn: str) -> x509.Certificate:
    """A self-signed client certificate, as Entra's docs recommend (names only matter here)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(_KEY, hashes.SHA256())
    )


def sha1(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex()


def sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def write_pem(path: Path, *certs: x509.Certificate) -> str:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return str(path)


def write_der(path: Path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return str(path)


def test_sha1_pins_become_upper_case_thumbprint_identities() -> None:
    cert = make_cert("api.contoso")
    ids = gateway_identities(CertificateAuthConfig(thumbprints=(sha1(cert),)), "t.toml")
    assert [i.thumbprint for i in ids.identities] == [sha1(cert).upper()]


def test_pin_files_give_both_hashes_and_cover_a_sha256_pin(tmp_path: Path) -> None:
    a, b, c = make_cert("a"), make_cert("b"), make_cert("c")
    cfg = CertificateAuthConfig(
        thumbprints=(sha256(a),),
        pin_files=(write_pem(tmp_path / "ab.pem", a, b), write_der(tmp_path / "c.cer", c)),
    )
    ids = gateway_identities(cfg, "t.toml")
    assert ids.thumbprints == {sha1(x).upper() for x in (a, b, c)}
    assert ids.app_pins == {h(x) for x in (a, b, c) for h in (sha1, sha256)}


def test_a_sha256_pin_without_its_certificate_file_is_refused() -> None:
    cfg = CertificateAuthConfig(thumbprints=(sha256(make_cert("x")),))
    with pytest.raises(
        ConfigError,
        match=r"auth\.certificate\.thumbprints\[0\]: SHA-256 pin.*"
        r"pin_files",
    ):
        gateway_identities(cfg, "t.toml")


def test_a_pin_listed_twice_is_one_identity(tmp_path: Path) -> None:
    a = make_cert("a")
    cfg = CertificateAuthConfig(thumbprints=(sha1(a),), pin_files=(write_pem(tmp_path / "a", a),))
    assert len(gateway_identities(cfg, "t.toml").identities) == 1


def test_an_unreadable_pin_file_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    cfg = CertificateAuthConfig(pin_files=(str(bad),))
    with pytest.raises(ConfigError, match=r"t\.toml: auth\.certificate\.pin_files\[0\]: .*bad"):
        gateway_identities(cfg, "t.toml")


def test_subjects_and_issuers_pair_up() -> None:
    cfg = CertificateAuthConfig(subjects=("CN=a", "CN=b"), issuers=("CN=CA",), ca_bundle="x")
    ids = gateway_identities(cfg, "t.toml")
    assert [(i.subject, i.issuer_subject) for i in ids.identities] == [
        ("CN=a", "CN=CA"),
        ("CN=b", "CN=CA"),
    ]
    assert ids.needs_trust


def test_more_than_ten_identities_suggest_issuer_based_ones() -> None:
    pins = tuple(f"{i:040x}" for i in range(11))
    with pytest.raises(
        ConfigError,
        match=r"auth\.certificate: 11 certificate identities.*at "
        r"most 10.*issuers",
    ):
        gateway_identities(CertificateAuthConfig(thumbprints=pins), "t.toml")


def test_ten_identities_are_fine() -> None:
    pins = tuple(f"{i:040x}" for i in range(10))
    assert len(gateway_identities(CertificateAuthConfig(thumbprints=pins), "t").identities) == 10


@pytest.mark.parametrize(
    ("rfc4514", "dotnet"),
    [
        ("CN=api.contoso", "CN=api.contoso"),
        ("CN=api.contoso,O=Contoso,C=US", "CN=api.contoso, O=Contoso, C=US"),
        ("CN=x,ST=Illinois,L=Chicago", "CN=x, S=Illinois, L=Chicago"),
        ("CN=x,O=Contoso\\, Inc.", 'CN=x, O="Contoso, Inc."'),
        ("CN=x+OU=y,DC=example", "CN=x + OU=y, DC=example"),
        ("CN=x,1.2.3.4=y", "CN=x, OID.1.2.3.4=y"),
    ],
)
def test_names_are_written_the_way_dotnet_prints_them(rfc4514: str, dotnet: str) -> None:
    assert dotnet_name(rfc4514) == dotnet


def test_a_malformed_subject_names_the_key() -> None:
    cfg = CertificateAuthConfig(subjects=("not a DN",), ca_bundle="x")
    with pytest.raises(ConfigError, match=r"auth\.certificate\.subjects: expected RFC 4514"):
        gateway_identities(cfg, "t.toml")
