"""The shared X.509 helpers: thumbprints, thumbprint normalisation, bundles, days left."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.certs.x509util import (
    CertificateFileError,
    cert_pins,
    days_left,
    load_certificate_file,
    load_pem_bundle,
    normalise_thumbprint,
    thumbprint_sha1,
    thumbprint_sha256,
)
from app.errors import ConfigError
from tests.pki import leaf, root_ca, write_key, write_pem

SHA1 = "CD053C2355124489874E75C405EBDE58393EFF4E"
SHA256 = "3A7A64653DAC0F3B7D2429E71071F3FD6C419EFE72C2B3331049355306228FE1"


@pytest.fixture(scope="module")
def cert():
    return leaf("CN=api.contoso")


def openssl_fingerprint(path: Path, digest: str) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", f"-{digest}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().split("=", 1)[1].replace(":", "")


def test_thumbprints_match_openssl_in_upper_case(tmp_path, cert):
    path = write_pem(tmp_path / "c.pem", cert.cert)
    assert thumbprint_sha1(cert.cert) == openssl_fingerprint(path, "sha1")
    assert thumbprint_sha256(cert.cert) == openssl_fingerprint(path, "sha256")
    assert thumbprint_sha1(cert.cert).isupper()
    assert cert_pins(cert.cert) == {
        thumbprint_sha1(cert.cert).lower(),
        thumbprint_sha256(cert.cert).lower(),
    }


@pytest.mark.parametrize(
    "text",
    [
        SHA1,
        SHA1.lower(),
        ":".join(SHA1[i : i + 2] for i in range(0, 40, 2)),
        " ".join(SHA1[i : i + 2] for i in range(0, 40, 2)),
        "\u200e" + SHA1,  # what Windows' certificate dialog puts on the clipboard
        f"  {SHA1}\n",
    ],
    ids=["upper", "lower", "colons", "spaces", "lrm-prefix", "padded"],
)
def test_normalise_accepts_the_forms_people_paste(text):
    assert normalise_thumbprint(text) == SHA1.lower()


def test_normalise_keeps_sha256():
    assert normalise_thumbprint(SHA256) == SHA256.lower()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "got 0 hex digits"),
        (SHA1[:-1], "got 39 hex digits"),
        (SHA256 + "00", "got 66 hex digits"),
        ("sha1:" + SHA1, "got 's'"),
        (SHA1[:-1] + "g", "got 'g'"),
        (SHA1.replace("C", "-", 1), "got '-'"),
    ],
    ids=["empty", "short", "long", "prefix", "non-hex", "dash"],
)
def test_normalise_rejects_with_expected_and_got(text, why):
    with pytest.raises(ConfigError, match=f"expected .*{why}"):
        normalise_thumbprint(text)


def test_bundle_reads_every_certificate_and_skips_keys(tmp_path, cert):
    root = root_ca()
    path = write_pem(tmp_path / "bundle.pem", cert.cert, root.cert)
    with path.open("ab") as handle:
        handle.write(cert.key_pem)  # a key block in the middle of a bundle is common
        handle.write(root.cert_pem)
    assert load_pem_bundle(path) == [cert.cert, root.cert, root.cert]


def test_der_file_is_read_by_load_certificate_file_only(tmp_path, cert):
    path = tmp_path / "c.cer"
    path.write_bytes(cert.der)
    assert load_certificate_file(path) == [cert.cert]
    with pytest.raises(CertificateFileError, match="holds no PEM certificate"):
        load_pem_bundle(path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "cannot read .*: No such file or directory"),
        (b"", "is empty"),
        (b"hello\n", "holds no PEM certificate"),
        ("key", "holds no PEM certificate"),
        ("truncated", "damaged or truncated"),
    ],
    ids=["missing", "empty", "text", "key-only", "truncated"],
)
def test_bundle_errors_name_the_file_and_the_cause(tmp_path, cert, content, why):
    path = tmp_path / "x.pem"
    if content == "key":
        write_key(path, cert)
    elif content == "truncated":
        path.write_bytes(cert.cert_pem[:300] + b"\n-----END CERTIFICATE-----\n")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CertificateFileError, match=why) as info:
        load_pem_bundle(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_load_certificate_file_rejects_garbage(tmp_path):
    path = tmp_path / "x.cer"
    path.write_bytes(b"\x30\x03\x02\x01\x01")
    with pytest.raises(CertificateFileError, match="is not a certificate: expected PEM"):
        load_certificate_file(path)


@pytest.mark.parametrize(
    ("left", "days"),
    [
        (timedelta(days=10, hours=1), 10),
        (timedelta(hours=23), 0),
        (timedelta(seconds=-1), -1),
        (timedelta(days=-3, hours=1), -3),
    ],
)
def test_days_left_rounds_down(cert, left, days):
    now = cert.cert.not_valid_after_utc - left
    assert days_left(cert.cert, now) == days


def test_days_left_takes_naive_as_utc(cert):
    now = datetime(2000, 1, 1, tzinfo=UTC)
    assert days_left(cert.cert, now.replace(tzinfo=None)) == days_left(cert.cert, now)
