"""`certs create`: self-signed client certificates, a private CA, and CA-issued certificates."""

from __future__ import annotations

import io
import os
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

import app.certs.create as create_module
from app.certs.create import CreateOptions, create
from app.errors import ConnectorError, ToolError
from tests.pki import client_cert, from_now, root_ca, write_key, write_pem

PASSWORD = "correct horse battery staple"
ENV = {"CONNECTOR_PFX_PASSWORD": PASSWORD}


def run(out_dir: Path, subject: str = "CN=api.contoso", env=None, **options) -> str:
    out = io.StringIO()
    opts = CreateOptions(subject=subject, out_dir=out_dir, **options)
    assert create(opts, ENV if env is None else env, datetime.now(UTC), out) == 0
    return out.getvalue()


def openssl_info(pfx: Path, password: str = PASSWORD) -> str:
    """What Debian's openssl says about a .pfx (it prints the details on stderr)."""
    result = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-info",
            "-legacy",
            "-noout",
            "-in",
            str(pfx),
            "-passin",
            "env:PFX_TEST_PASSWORD",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PFX_TEST_PASSWORD": password},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def extension(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("made")
    return directory, run(directory)


def test_pfx_uses_3des_and_sha1_mac_per_openssl(made):
    directory, _ = made
    info = openssl_info(directory / "api.contoso.pfx")
    assert "MAC: sha1" in info
    assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert "AES" not in info and "PBES2" not in info


def test_pfx_opens_with_cryptography_and_holds_the_key_of_the_pem(made):
    directory, _ = made
    loaded = pkcs12.load_pkcs12((directory / "api.contoso.pfx").read_bytes(), PASSWORD.encode())
    pem = x509.load_pem_x509_certificate((directory / "api.contoso.pem").read_bytes())
    assert loaded.cert is not None and loaded.cert.certificate == pem
    assert loaded.cert.friendly_name == b"api.contoso"
    assert loaded.key is not None
    assert loaded.key.public_key().public_numbers() == pem.public_key().public_numbers()
    assert loaded.additional_certs == []


def test_certificate_is_what_entra_docs_recommend(made):
    directory, _ = made
    cert = x509.load_pem_x509_certificate((directory / "api.contoso.pem").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=api.contoso"
    assert cert.issuer == cert.subject
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.key_encipherment or usage.value.key_cert_sign)
    assert list(extension(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    san = extension(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.contoso"]
    assert extension(cert, x509.BasicConstraints).value.ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=365) <= lifetime <= timedelta(days=365, minutes=6)


def test_key_file_is_0600_and_encrypted_with_the_password(made):
    directory, _ = made
    key_path = directory / "api.contoso.key"
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert (directory / "api.contoso.pfx").stat().st_mode & 0o777 == 0o600
    data = key_path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(data, None)
    assert serialization.load_pem_private_key(data, PASSWORD.encode())


def test_output_gives_thumbprints_and_config_lines_that_parse(made):
    directory, output = made
    cert = x509.load_pem_x509_certificate((directory / "api.contoso.pem").read_bytes())
    sha1 = cert.fingerprint(hashes.SHA1()).hex()
    sha256 = cert.fingerprint(hashes.SHA256()).hex()
    assert f"SHA-1     {sha1.upper()}" in output
    assert f"SHA-256   {sha256.upper()}" in output
    block = output[output.index("[auth.certificate]") :].split("\n\n")[0]
    assert tomllib.loads(block) == {"auth": {"certificate": {"thumbprints": [sha256]}}}
    assert PASSWORD not in output


@pytest.mark.parametrize(
    ("key_type", "kind", "size"),
    [("ec-p256", ec.EllipticCurvePublicKey, 256), ("rsa3072", rsa.RSAPublicKey, 3072)],
)
def test_other_key_types(tmp_path, key_type, kind, size):
    run(tmp_path, key_type=key_type)
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in openssl_info(tmp_path / "api.contoso.pfx")
    key = x509.load_pem_x509_certificate((tmp_path / "api.contoso.pem").read_bytes()).public_key()
    assert isinstance(key, kind) and key.key_size == size


def test_no_key_password_writes_a_plain_key_still_0600(tmp_path):
    run(tmp_path, key_password=False, name="plain")
    key_path = tmp_path / "plain.key"
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert serialization.load_pem_private_key(key_path.read_bytes(), None)


def test_san_options(tmp_path):
    run(tmp_path, subject="CN=My API", san=("api.contoso.com", "10.0.0.1"), name="a")
    cert = x509.load_pem_x509_certificate((tmp_path / "a.pem").read_bytes())
    san = extension(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.contoso.com"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    run(tmp_path, subject="CN=My API", no_san=True, name="b")
    cert = x509.load_pem_x509_certificate((tmp_path / "b.pem").read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.SubjectAlternativeName)


def test_private_ca_then_issued_client_certificate(tmp_path):
    output = run(
        tmp_path,
        subject="CN=Contoso Connector CA,O=Contoso",
        ca=True,
        name="ca",
        env={"CA_PW": "another long password"},
        password_env="CA_PW",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.key", "ca.pem"]
    assert f'ca_bundle = "{tmp_path / "ca.pem"}"' in output
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    assert extension(ca, x509.BasicConstraints).value.ca is True
    assert extension(ca, x509.KeyUsage).value.key_cert_sign
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > timedelta(days=1800)

    env = {**ENV, "CA_PW": "another long password"}
    output = run(
        tmp_path,
        issuer=tmp_path / "ca.pem",
        issuer_key=tmp_path / "ca.key",
        issuer_password_env="CA_PW",
        env=env,
    )
    assert 'subjects = ["CN=api.contoso"]' in output
    verified = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "api.contoso.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    info = openssl_info(tmp_path / "api.contoso.pfx")
    assert info.count("Certificate bag") == 2  # the leaf and the CA
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info


def test_existing_output_is_refused_and_left_alone_unless_force(tmp_path):
    existing = tmp_path / "api.contoso.pem"
    existing.write_bytes(b"keep me")
    with pytest.raises(ToolError, match=r"api\.contoso\.pem already exists: use --force"):
        run(tmp_path)
    assert existing.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["api.contoso.pem"]
    run(tmp_path, force=True)
    assert existing.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "api.contoso.key",
        "api.contoso.pem",
        "api.contoso.pfx",
    ]


def test_a_failure_after_writing_began_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ToolError("simulated failure")

    monkeypatch.setattr(create_module, "key_pem", broken)  # after the .pfx was staged
    with pytest.raises(ToolError, match="simulated failure"):
        run(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "env", "why"),
    [
        ({"subject": "CN"}, ENV, "is not a distinguished name: expected e.g. 'CN=api.contoso'"),
        ({"subject": "O=Contoso"}, ENV, "has no CN"),
        ({"subject": "CN=My API"}, ENV, "cannot derive a SAN DNS name from CN 'My API'"),
        ({"san": ("bad name!",)}, ENV, "expected a DNS name or an IP address"),
        ({"san": ("a.b",), "no_san": True}, ENV, "--san and --no-san exclude each other"),
        ({"days": 0}, ENV, "expected 1 to 3650, got 0"),
        (
            {"ca": True, "issuer": Path("x.pem"), "issuer_key": Path("x.key")},
            ENV,
            "exclude each other",
        ),
        ({"issuer": Path("x.pem")}, ENV, "--issuer and --issuer-key go together"),
        ({}, {}, "no password: set CONNECTOR_PFX_PASSWORD"),
        ({}, {"CONNECTOR_PFX_PASSWORD": ""}, "CONNECTOR_PFX_PASSWORD is empty"),
        ({}, {"CONNECTOR_PFX_PASSWORD": "short"}, "at least 12 characters, got 5"),
        ({"password_env": "hunter2 secret"}, ENV, "expects the NAME of an environment variable"),
        ({"name": "../.."}, ENV, "cannot make a file name"),
    ],
    ids=[
        "not-a-dn",
        "no-cn",
        "cn-not-dns",
        "bad-san",
        "san-and-no-san",
        "days-0",
        "ca-and-issuer",
        "issuer-alone",
        "no-password",
        "empty-password",
        "short-password",
        "password-as-env-name",
        "bad-name",
    ],
)
def test_bad_input_is_refused_without_leaving_files(tmp_path, options, env, why):
    options = {"subject": "CN=api.contoso", **options}
    with pytest.raises(ToolError, match=why) as info:
        create(CreateOptions(out_dir=tmp_path, **options), env, datetime.now(UTC), io.StringIO())
    assert "hunter2" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_directory(tmp_path):
    with pytest.raises(ToolError, match=r"output directory .*nope does not exist"):
        run(tmp_path / "nope")


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ca")
    ca = root_ca()
    write_pem(directory / "ca.pem", ca.cert)
    write_key(directory / "ca.key", ca, password=b"ca key password")
    write_pem(directory / "other.pem", root_ca("CN=Other").cert)
    leaf = client_cert(issuer=ca)
    write_pem(directory / "leaf.pem", leaf.cert)
    write_key(directory / "leaf.key", leaf)
    old = root_ca("CN=Old", not_before=from_now(-30), not_after=from_now(-1))
    write_pem(directory / "old.pem", old.cert)
    write_key(directory / "old.key", old)
    short = root_ca("CN=Short", not_after=from_now(10))
    write_pem(directory / "short.pem", short.cert)
    write_key(directory / "short.key", short)
    write_key(directory / "ed.key", ed25519.Ed25519PrivateKey.generate())
    return directory


@pytest.mark.parametrize(
    ("issuer", "key", "env", "why"),
    [
        ("leaf.pem", "leaf.key", ENV, "leaf.pem is not a CA certificate"),
        (
            "other.pem",
            "ca.key",
            {**ENV, "CONNECTOR_PFX_PASSWORD": "ca key password"},
            "--issuer-key does not belong to .*other.pem",
        ),
        ("ca.pem", "ca.key", ENV, "wrong password for .*ca.key"),
        ("old.pem", "old.key", ENV, "old.pem is not valid now"),
        ("short.pem", "short.key", ENV, "--days 365 outlives the issuing CA"),
        ("ca.pem", "ed.key", ENV, "unsupported key type Ed25519: expected RSA or EC"),
        ("ca.pem", "leaf.pem", ENV, "leaf.pem is not a PEM private key"),
        ("missing.pem", "ca.key", ENV, "cannot read .*missing.pem: No such file"),
    ],
    ids=[
        "not-ca",
        "key-mismatch",
        "wrong-key-password",
        "expired-ca",
        "outlives-ca",
        "ed25519-key",
        "not-a-key",
        "missing-ca",
    ],
)
def test_issuer_problems(tmp_path, ca_files, issuer, key, env, why):
    options = CreateOptions(
        subject="CN=api.contoso",
        out_dir=tmp_path,
        issuer=ca_files / issuer,
        issuer_key=ca_files / key,
    )
    with pytest.raises(ConnectorError, match=why):
        create(options, env, datetime.now(UTC), io.StringIO())
    assert list(tmp_path.iterdir()) == []
