"""TLS contexts for the simulator: server trust, and the client certificate Entra would present."""

from __future__ import annotations

import datetime
import os
import secrets
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import ToolError
from app.simulate.credentials import KEY_PASSWORD_ENV, PFX_PASSWORD_ENV, read_secret

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

# Security checklist for client keys:
# (1) .pfx and key passwords come from the environment or a prompt, never argv.
# (2) A decrypted key only touches disk in a mkstemp file (mode 0600), itself re-encrypted with a
#     one-time random password that lives only in memory.
# (3) The temporary file is deleted as soon as ssl has loaded it, whatever happens.
# (4) The server is verified (system trust or --ca) unless --insecure says otherwise; TLS 1.2+.


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate ready for ssl, plus its subject/issuer for the impostor probe."""

    pem: bytes  # certificate (and chain) PEM
    key_pem: bytes  # private key PEM, encrypted with `key_password`
    key_password: bytes
    subject: x509.Name
    issuer: x509.Name


def server_trust(ca_file: str | None, insecure: bool) -> ssl.SSLContext:
    """A client context that verifies the server like any HTTPS client (4)."""
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        try:
            ctx = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ToolError(f"--ca {ca_file}: expected a readable PEM bundle: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # Entra speaks TLS 1.2+ only (REFERENCE §1)
    return ctx


def _reencrypt(key: PrivateKeyTypes) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization

    password = secrets.token_hex(32).encode("ascii")  # (2)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    return pem, password


def from_pfx(path: str, password: str | None = None) -> ClientCertificate:
    """Open a .pfx as Entra would use it (password from CONNECTOR_PFX_PASSWORD or a prompt) (1)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ToolError(f"--pfx {path}: cannot read: {exc.strerror}") from exc
    if password is None:
        password = read_secret(PFX_PASSWORD_ENV, f"Password for {path}: ")
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError as exc:
        raise ToolError(
            f"--pfx {path}: expected a PKCS#12 file this password opens: {exc}"
        ) from exc
    if key is None or cert is None:
        raise ToolError(f"--pfx {path}: expected a private key and a certificate, found neither")
    key_pem, key_password = _reencrypt(key)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, *chain))
    return ClientCertificate(pem, key_pem, key_password, cert.subject, cert.issuer)


def from_pem(cert_path: str, key_path: str) -> ClientCertificate:
    """Load a PEM certificate and key; an encrypted key's password from the environment (1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        pem = Path(cert_path).read_bytes()
        key_data = Path(key_path).read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ToolError(f"--cert {cert_path}: expected a PEM certificate: {exc}") from exc
    password: bytes | None = None
    if b"ENCRYPTED" in key_data:
        password = read_secret(KEY_PASSWORD_ENV, f"Password for {key_path}: ").encode()
    try:
        key = serialization.load_pem_private_key(key_data, password)
    except (ValueError, TypeError) as exc:
        raise ToolError(f"--key {key_path}: expected a PEM private key: {exc}") from exc
    key_pem, key_password = _reencrypt(key)
    return ClientCertificate(pem, key_pem, key_password, cert.subject, cert.issuer)


def impostor(real: ClientCertificate) -> ClientCertificate:
    """A certificate with the real one's subject and issuer names, from the impostor's own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)

    def issue(
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(real.issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
            builder = builder.add_extension(usage, critical=False)
        return builder.sign(signer, hashes.SHA256())

    key = ec.generate_private_key(ec.SECP256R1())
    if real.subject == real.issuer:  # a self-signed original (New-SelfSignedCertificate)
        chain = [issue(real.subject, key, key, ca=False)]
    else:
        # Sending the fake issuer explicitly also stops OpenSSL from completing the chain with a
        # same-named CA from our own trust store, which would hide a subject-only check.
        ca_key = ec.generate_private_key(ec.SECP256R1())
        chain = [
            issue(real.subject, key, ca_key, ca=False),
            issue(real.issuer, ca_key, ca_key, ca=True),
        ]
    key_pem, key_password = _reencrypt(key)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    return ClientCertificate(pem, key_pem, key_password, real.subject, real.issuer)


@contextmanager
def _private_file(data: bytes) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="connector-client-", suffix=".pem")  # 0600 (2)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        os.unlink(path)  # (3)


def with_client_certificate(
    trust: Callable[[], ssl.SSLContext], cert: ClientCertificate
) -> ssl.SSLContext:
    """A fresh context from `trust` that presents `cert` in the handshake."""
    ctx = trust()
    with _private_file(cert.key_pem + cert.pem) as path:
        try:
            ctx.load_cert_chain(path, password=cert.key_password)
        except ssl.SSLError as exc:
            raise ToolError(f"expected a certificate matching its private key: {exc}") from exc
    return ctx
