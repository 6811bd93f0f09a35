"""Client certificates: .pfx/PEM loading through a private temp file, the impostor, server trust."""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from app.errors import ToolError
from app.simulate import tls
from app.simulate.credentials import read_secret
from tests import pki
from tests.broken_servers import Pki, make_pki


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_pfx_is_loaded_through_a_0600_file_that_is_deleted(
    pki_files: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, bytes]] = []
    real_unlink: Callable[[str], None] = os.unlink

    def spy(path: str) -> None:
        seen.append((path, stat.S_IMODE(os.stat(path).st_mode), Path(path).read_bytes()))
        real_unlink(path)

    monkeypatch.setattr(tls.os, "unlink", spy)
    cert = tls.from_pfx(str(pki_files.client_pfx), pki_files.pfx_password)
    ctx = tls.with_client_certificate(lambda: tls.server_trust(str(pki_files.ca), False), cert)
    assert isinstance(ctx, ssl.SSLContext)
    [(path, mode, content)] = seen
    assert mode == 0o600
    assert not Path(path).exists()
    # The key on disk is re-encrypted with a one-time password; never in the clear.
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
    assert b"-----BEGIN PRIVATE KEY-----" not in content


def test_pfx_password_comes_from_the_environment(
    pki_files: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_PFX_PASSWORD", pki_files.pfx_password)
    cert = tls.from_pfx(str(pki_files.client_pfx))
    assert cert.subject.rfc4514_string() == "CN=api.contoso"


def test_wrong_pfx_password_is_refused(pki_files: Pki) -> None:
    with pytest.raises(ToolError, match="expected a PKCS#12 file this password opens"):
        tls.from_pfx(str(pki_files.client_pfx), "wrong")


def test_missing_files_are_refused(pki_files: Pki, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="cannot read"):
        tls.from_pfx(str(tmp_path / "nope.pfx"), "x")
    with pytest.raises(ToolError, match="expected a PEM certificate"):
        tls.from_pem(str(pki_files.client_key), str(pki_files.client_key))
    with pytest.raises(ToolError, match="expected a PEM private key"):
        tls.from_pem(str(pki_files.client_cert), str(pki_files.client_cert))


def test_mismatched_certificate_and_key_are_refused(pki_files: Pki) -> None:
    cert = tls.from_pem(str(pki_files.client_cert), str(pki_files.server_key))
    with pytest.raises(ToolError, match="expected a certificate matching its private key"):
        tls.with_client_certificate(lambda: tls.server_trust(None, False), cert)


def test_no_secret_and_no_terminal_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ToolError, match="environment variable CONNECTOR_PFX_PASSWORD"):
        read_secret("CONNECTOR_PFX_PASSWORD", "pw: ", environ={})
    assert read_secret("X_PW", "pw: ", environ={"X_PW": "a:b"}) == "a:b"


def test_impostor_copies_names_but_not_the_key_or_the_issuer(pki_files: Pki) -> None:
    real = tls.from_pem(str(pki_files.client_cert), str(pki_files.client_key))
    fake = tls.impostor(real)
    leaf, issuer = x509.load_pem_x509_certificates(fake.pem)
    original = x509.load_pem_x509_certificate(pki_files.client_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(pki_files.ca.read_bytes())
    assert leaf.subject == original.subject and leaf.issuer == original.issuer
    assert leaf.public_key() != original.public_key()
    assert issuer.subject == ca.subject and issuer.public_key() != ca.public_key()
    with pytest.raises(InvalidSignature):
        leaf.verify_directly_issued_by(ca)


def test_self_signed_original_gives_a_self_signed_impostor(tmp_path: Path) -> None:
    # What New-SelfSignedCertificate makes (REFERENCE §2): RSA 2048, no issuing CA.
    original = pki.client_cert("CN=api.contoso", key_type="rsa2048")
    files = pki.write_files(tmp_path, "self", original)
    fake = tls.impostor(tls.from_pem(str(files.cert), str(files.key)))
    [leaf] = x509.load_pem_x509_certificates(fake.pem)
    assert leaf.subject == leaf.issuer == original.cert.subject
    assert leaf.public_key() != original.cert.public_key()
    leaf.verify_directly_issued_by(leaf)


def test_encrypted_pem_key_password_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = pki.client_cert("CN=api.contoso")
    key = pki.write_key(tmp_path / "enc.key", issued, password=b"key:pass")
    cert = pki.write_pem(tmp_path / "enc.pem", issued.cert)
    monkeypatch.setenv("CONNECTOR_KEY_PASSWORD", "key:pass")
    loaded = tls.from_pem(str(cert), str(key))
    assert loaded.subject == issued.cert.subject
    monkeypatch.setenv("CONNECTOR_KEY_PASSWORD", "wrong")
    with pytest.raises(ToolError, match="expected a PEM private key"):
        tls.from_pem(str(cert), str(key))


def test_server_trust_defaults_verify_and_insecure_does_not() -> None:
    strict = tls.server_trust(None, False)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    assert strict.minimum_version == ssl.TLSVersion.TLSv1_2
    loose = tls.server_trust(None, True)
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname


def test_unreadable_ca_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ToolError, match="expected a readable PEM bundle"):
        tls.server_trust(str(tmp_path / "ca.pem"), False)
