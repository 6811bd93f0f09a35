"""`certs convert`: an AES/PBES2 .pfx rewritten the way Entra accepts, key and chain kept."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import pkcs12

from app.certs.convert import convert
from app.certs.inspect import inspect_file
from app.errors import ToolError
from tests.pki import (
    Issued,
    client_cert,
    intermediate_ca,
    root_ca,
    write_files,
    write_pem,
    write_pfx,
)

PASSWORD = "pfx password"
ENV = {"CONNECTOR_PFX_PASSWORD": PASSWORD}


def openssl(*args: str) -> str:
    result = subprocess.run(
        ["openssl", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PFX_TEST_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def client() -> Issued:
    return client_cert("CN=api.contoso", issuer=intermediate_ca(root_ca()), key_type="rsa2048")


@pytest.fixture(scope="module")
def aes_pfx(tmp_path_factory, client) -> Path:
    """What `openssl pkcs12 -export` (OpenSSL 3 default) makes: AES-256, PBES2, SHA-256 MAC."""
    directory = tmp_path_factory.mktemp("aes")
    pem = write_files(directory, "client", client)
    cas = write_pem(directory / "cas.pem", *client.chain)
    out = directory / "aes.pfx"
    openssl(
        "pkcs12",
        "-export",
        "-in",
        str(pem.cert),
        "-inkey",
        str(pem.key),
        "-certfile",
        str(cas),
        "-name",
        "api.contoso",
        "-out",
        str(out),
        "-passout",
        "env:PFX_TEST_PASSWORD",
    )
    return out


def run(source: Path, target: Path, env=ENV, force=False) -> str:
    out = io.StringIO()
    assert convert(source, target, env, "CONNECTOR_PFX_PASSWORD", force=force, out=out) == 0
    return out.getvalue()


def test_openssl3_pfx_is_rejected_then_fixed(aes_pfx, tmp_path, client):
    now = datetime.now(UTC)
    before = inspect_file(aes_pfx, ENV, "CONNECTOR_PFX_PASSWORD", now)
    assert before.verdict().startswith("Entra will reject this file: AES-256 (PBES2)")

    target = tmp_path / "fixed.pfx"
    output = run(aes_pfx, target)
    assert "Entra will reject this file: AES-256 (PBES2)" in output
    assert f"wrote {target}" in output and "Entra will accept this file" in output
    assert target.stat().st_mode & 0o777 == 0o600

    info = openssl(
        "pkcs12",
        "-info",
        "-legacy",
        "-noout",
        "-in",
        str(target),
        "-passin",
        "env:PFX_TEST_PASSWORD",
    )
    assert "MAC: sha1" in info
    assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info
    assert "AES" not in info

    after = inspect_file(target, ENV, "CONNECTOR_PFX_PASSWORD", now)
    assert after.verdict() == "Entra will accept this file"

    old = pkcs12.load_pkcs12(aes_pfx.read_bytes(), PASSWORD.encode())
    new = pkcs12.load_pkcs12(target.read_bytes(), PASSWORD.encode())
    assert new.key.private_numbers() == old.key.private_numbers()
    assert new.cert.certificate == client.cert
    assert new.cert.friendly_name == b"api.contoso"
    assert [c.certificate for c in new.additional_certs] == list(client.chain)


def test_existing_output_is_refused_unless_force(aes_pfx, tmp_path):
    target = tmp_path / "out.pfx"
    target.write_bytes(b"keep")
    with pytest.raises(ToolError, match=r"out\.pfx already exists: use --force"):
        run(aes_pfx, target)
    assert target.read_bytes() == b"keep"
    run(aes_pfx, target, force=True)
    assert pkcs12.load_pkcs12(target.read_bytes(), PASSWORD.encode()).key is not None


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, client) -> Path:
    directory = tmp_path_factory.mktemp("odd")
    write_pfx(directory / "nokey.pfx", client, PASSWORD.encode(), with_key=False)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed = client_cert("CN=ed.contoso", key=ed_key)  # signed by itself with Ed25519
    write_pfx(directory / "ed25519.pfx", ed, PASSWORD.encode())
    write_pem(directory / "cert.pem", client.cert)
    (directory / "cut.pfx").write_bytes((directory / "nokey.pfx").read_bytes()[:400])
    return directory


@pytest.mark.parametrize(
    ("source", "env", "why"),
    [
        (
            "aes",
            {"CONNECTOR_PFX_PASSWORD": "wrong"},
            r"wrong password for .*aes\.pfx \(or the file is not a PKCS#12 file\)",
        ),
        ("aes", {}, "no password: set CONNECTOR_PFX_PASSWORD"),
        ("nokey.pfx", ENV, r"nokey\.pfx holds no private key"),
        ("ed25519.pfx", ENV, "unsupported key type Ed25519: expected RSA or EC"),
        ("cert.pem", ENV, r"cert\.pem is not a PKCS#12 file"),
        ("cut.pfx", ENV, r"cut\.pfx is not a PKCS#12 file \(or it is truncated\)"),
        ("missing.pfx", ENV, r"cannot read .*missing\.pfx"),
    ],
    ids=["wrong-password", "no-password", "no-key", "ed25519", "pem", "truncated", "missing"],
)
def test_bad_input_writes_nothing(aes_pfx, odd_files, tmp_path, source, env, why):
    path = aes_pfx if source == "aes" else odd_files / source
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(Exception, match=why) as info:
        run(path, out_dir / "fixed.pfx", env=env)
    assert info.type.__module__.startswith("app.")  # ours, not a library's
    assert list(out_dir.iterdir()) == []
