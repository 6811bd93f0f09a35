"""`certs inspect`: certificate facts, and for a .pfx its encryption and Entra's verdict."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.certs.inspect import inspect_file
from app.errors import ConnectorError
from tests.pki import client_cert, from_now, root_ca, write_files, write_key, write_pem, write_pfx

PASSWORD = "pfx password"
ENV = {"CONNECTOR_PFX_PASSWORD": PASSWORD}
REJECT_AES = "Entra will reject this file: AES-256 (PBES2), SHA-256 MAC; run certs convert"


def openssl_export(directory: Path, name: str, *extra: str) -> Path:
    """A .pfx exported by Debian's OpenSSL 3 (AES-256/PBES2 unless told -legacy)."""
    out = directory / name
    subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-export",
            *extra,
            "-in",
            str(directory / "client.pem"),
            "-inkey",
            str(directory / "client.key"),
            "-certfile",
            str(directory / "ca.pem"),
            "-out",
            str(out),
            "-passout",
            "env:PFX_TEST_PASSWORD",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PFX_TEST_PASSWORD": PASSWORD},
    )
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("inspect")
    ca = root_ca("CN=Contoso CA")
    client = client_cert("CN=api.contoso", issuer=ca)
    write_files(directory, "client", client)
    write_pem(directory / "ca.pem", ca.cert)
    write_pfx(directory / "entra.pfx", client, PASSWORD.encode())
    write_pfx(directory / "nokey.pfx", client, PASSWORD.encode(), with_key=False)
    openssl_export(directory, "aes.pfx")
    openssl_export(directory, "legacy.pfx", "-legacy")
    (directory / "aes.bin").write_bytes((directory / "aes.pfx").read_bytes())
    (directory / "client.cer").write_bytes(client.der)
    write_key(directory / "enc.key", client, password=b"key password")
    expired = client_cert("CN=old.contoso", not_before=from_now(-40), not_after=from_now(-3))
    write_pem(directory / "expired.pem", expired.cert)
    return directory


def inspect(path: Path, env=ENV):
    return inspect_file(path, env, "CONNECTOR_PFX_PASSWORD", datetime.now(UTC))


def test_pfx_made_the_entra_way_is_accepted(files):
    report = inspect(files / "entra.pfx")
    assert report.verdict() == "Entra will accept this file"
    assert [c.subject for c in report.certificates] == ["CN=api.contoso", "CN=Contoso CA"]
    assert report.key is not None and report.key.matches == 0
    assert {b.algorithm for b in report.pfx.bags} == {"pbeWithSHA1And3-KeyTripleDES-CBC"}
    assert report.pfx.mac == "SHA-1"
    text = "\n".join(report.lines())
    assert "private key: pbeWithSHA1And3-KeyTripleDES-CBC, 50000 iterations" in text
    assert "verdict: Entra will accept this file" in text


def test_openssl3_default_export_is_rejected_with_the_reason(files):
    report = inspect(files / "aes.pfx")
    assert report.verdict() == REJECT_AES
    assert [b.problem for b in report.pfx.bags] == ["AES-256 (PBES2)", "AES-256 (PBES2)"]
    assert report.pfx.bags[1].algorithm == "PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC"
    data = report.as_json()
    assert data["pkcs12"]["entra_accepts"] is False
    assert data["pkcs12"]["problems"] == ["AES-256 (PBES2)", "SHA-256 MAC"]


def test_openssl_legacy_export_is_accepted(files):
    report = inspect(files / "legacy.pfx")
    assert report.verdict() == "Entra will accept this file"
    holds = {b.holds: b.algorithm for b in report.pfx.bags}
    assert holds["encrypted safe (certificates)"] == "pbeWithSHA1And40BitRC2-CBC"
    assert holds["private key"] == "pbeWithSHA1And3-KeyTripleDES-CBC"


def test_non_rsa_key_gets_a_note(files):
    assert inspect(files / "entra.pfx").notes == (
        "the key is EC P-256: Entra's documentation recommends RSA 2048",
    )


def test_pfx_without_key_is_rejected_for_that(files):
    report = inspect(files / "nokey.pfx")
    assert report.key is None
    assert report.verdict() == (
        "Entra will reject this file: no private key; export the certificate with its private key"
    )


def test_unencrypted_pfx_is_rejected_for_that(files, tmp_path):
    path = write_pfx(tmp_path / "plain.pfx", client_cert(), PASSWORD.encode(), encryption="none")
    report = inspect(path, env={})
    assert report.pfx.bags[0].holds == "certificates (1, not encrypted)"
    assert report.verdict() == (
        "Entra will reject this file: unencrypted private key, SHA-256 MAC; run certs convert"
    )


def test_pfx_content_is_recognised_whatever_the_name(files):
    assert inspect(files / "aes.bin").verdict() == REJECT_AES


def test_without_a_password_the_encryption_is_still_judged(files):
    report = inspect(files / "aes.pfx", env={})
    assert report.opened is False and report.certificates == ()
    assert report.verdict() == REJECT_AES
    assert report.notes == (
        "certificates not shown: set CONNECTOR_PFX_PASSWORD to the .pfx password to see them",
    )


def test_pem_bundle_shows_each_certificate(files):
    bundle = files / "client-chain.pem"
    report = inspect(bundle)
    assert report.format == "PEM" and report.pfx is None and report.verdict() is None
    leaf, ca = report.certificates
    assert (leaf.issuer, leaf.self_signed, ca.self_signed) == ("CN=Contoso CA", False, True)
    assert str(leaf.key) == "EC P-256"
    assert leaf.key_usage == ("digitalSignature",)
    assert leaf.extended_key_usage == ("clientAuth",)
    assert leaf.san == ("DNS:api.contoso",)
    assert (leaf.is_ca, ca.is_ca) == (False, True)
    assert ca.extended_key_usage is None
    assert 28 <= leaf.days_left <= 30 and leaf.state == "valid"
    assert len(leaf.sha1) == 40 and len(leaf.sha256) == 64


def test_expired_certificate_says_so(files):
    (info,) = inspect(files / "expired.pem").certificates
    assert info.state == "expired" and info.days_left == -4  # 3 days and a bit, rounded down
    assert "(expired 3 day(s) ago)" in "\n".join(info.lines())


def test_der_certificate(files):
    report = inspect(files / "client.cer")
    assert report.format == "DER"
    assert [c.subject for c in report.certificates] == ["CN=api.contoso"]


def test_key_files(files):
    plain = inspect(files / "client.key")
    assert plain.certificates == () and str(plain.key.info) == "EC P-256"
    encrypted = inspect(files / "enc.key")
    assert encrypted.key.encrypted and encrypted.key.info is None
    combined = files / "combined.pem"
    combined.write_bytes((files / "client.key").read_bytes() + (files / "client.pem").read_bytes())
    assert inspect(combined).key.matches == 0


def test_json_is_complete_and_serialisable(files):
    data = json.loads(json.dumps(inspect(files / "entra.pfx").as_json()))
    assert data["format"] == "PKCS#12"
    assert data["private_key"] == {
        "algorithm": "EC",
        "size": 256,
        "curve": "P-256",
        "encrypted": False,
        "matches_certificate": 0,
    }
    assert data["pkcs12"]["verdict"] == "Entra will accept this file"
    assert data["pkcs12"]["mac"] == "SHA-1"
    assert data["certificates"][0]["extended_key_usage"] == ["clientAuth"]


@pytest.mark.parametrize(
    ("name", "content", "env", "why"),
    [
        (
            "aes.pfx",
            None,
            {"CONNECTOR_PFX_PASSWORD": "wrong"},
            r"wrong password for .*aes\.pfx \(or the file is not a PKCS#12 file\)",
        ),
        ("cut.pfx", "truncated", ENV, r"cut\.pfx is not a PKCS#12 file \(or it is truncated\)"),
        (
            "notes.txt",
            b"just some text\n",
            ENV,
            r"notes\.txt is not a certificate file: expected PEM, DER or PKCS#12",
        ),
        ("empty.pem", b"", ENV, r"empty\.pem is empty"),
        ("missing.pem", None, ENV, r"cannot read .*missing\.pem: No such file or directory"),
        (
            "bad.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ENV,
            "damaged or truncated PEM certificate",
        ),
        (
            "csr.pem",
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n",
            ENV,
            "holds no certificate or private key: found PEM block.s. CERTIFICATE REQUEST",
        ),
    ],
    ids=["wrong-password", "truncated-pfx", "text", "empty", "missing", "bad-pem", "csr"],
)
def test_bad_files_give_one_clear_error(files, tmp_path, name, content, env, why):
    path = files / name if name == "aes.pfx" else tmp_path / name
    if content == "truncated":
        path.write_bytes((files / "aes.pfx").read_bytes()[:700])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ConnectorError, match=why):
        inspect(path, env=env)
