"""The test PKI makes what its docstring promises (the mTLS tests rely on it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from tests.pki import (
    client_cert,
    from_now,
    impostor,
    intermediate_ca,
    leaf,
    root_ca,
    server_cert,
    write_files,
    write_pfx,
)


@pytest.fixture(scope="module")
def root():
    return root_ca()


@pytest.fixture(scope="module")
def inter(root):
    return intermediate_ca(root)


def verify(issued, anchors):
    verifier = PolicyBuilder().store(Store(anchors)).build_client_verifier()
    return verifier.verify(issued.cert, list(issued.chain[:-1]))


def test_client_chain_through_an_intermediate_verifies(root, inter):
    client = client_cert("CN=api.contoso", issuer=inter)
    assert client.chain == (inter.cert, root.cert)
    verify(client, [root.cert])


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda r: client_cert(issuer=r, not_after=from_now(-1)), "not valid at validation time"),
        (lambda r: client_cert(issuer=r, not_before=from_now(1)), "not valid at validation time"),
        (lambda r: leaf(issuer=r, eku="server"), "extended key usage|EKU"),
        (lambda r: client_cert(issuer=root_ca("CN=Other Root")), "candidates exhausted"),
    ],
    ids=["expired", "not-yet-valid", "server-only-eku", "other-ca"],
)
def test_bad_leaves_fail_chain_validation(root, make, why):
    with pytest.raises(VerificationError, match=why):
        verify(make(root), [root.cert])


def test_leaf_without_eku_or_san_has_neither_extension(root):
    bare = leaf(issuer=root, eku="none", san=None, key_usage=None)
    kinds = {type(e.value) for e in bare.cert.extensions}
    assert x509.ExtendedKeyUsage not in kinds
    assert x509.SubjectAlternativeName not in kinds
    assert x509.KeyUsage not in kinds


def test_both_eku_and_rsa_key():
    both = leaf(eku="both", key_type="rsa2048")
    eku = both.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    assert both.cert.public_key().key_size == 2048
    assert both.chain == ()  # self-signed


def test_impostor_shares_subject_and_san_but_not_key(root):
    real = client_cert("CN=api.contoso", issuer=root)
    fake = impostor(real)
    assert fake.cert.subject == real.cert.subject
    assert fake.cert.issuer == real.cert.subject  # self-signed
    assert fake.sha256 != real.sha256
    san = fake.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.contoso"]
    with pytest.raises(VerificationError):
        verify(fake, [root.cert])


def test_server_cert_names_localhost_and_loopback(root):
    server = server_cert(root)
    san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_writers_make_files_openssl_reads(tmp_path: Path, root, inter):
    client = client_cert(issuer=inter)
    files = write_files(tmp_path / "out", "client", client)
    assert os.stat(files.key).st_mode & 0o777 == 0o600
    assert files.chain.read_bytes().count(b"BEGIN CERTIFICATE") == 3
    anchors = tmp_path / "root.pem"
    anchors.write_bytes(root.cert_pem)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(anchors),
            "-untrusted",
            str(files.chain),
            str(files.cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pfx = write_pfx(tmp_path / "c.pfx", client, b"pw")
    loaded = pkcs12.load_pkcs12(pfx.read_bytes(), b"pw")
    assert loaded.cert.certificate == client.cert
    assert len(loaded.additional_certs) == 2
