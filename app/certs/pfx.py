"""PKCS#12 (.pfx) reading with a password and writing in the encryption Entra accepts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from app.certs.keys import SigningKey, check_key_type, public_bytes
from app.certs.pfx_encryption import analyse_pfx
from app.errors import ToolError

# Entra takes PBES1 3DES with a SHA-1 MAC (REFERENCE §2, §7). The rounds follow REFERENCE §7;
# Windows-side readers bound the total work per file (.NET: 600,000), and 3 x 50,000 stays under.
KDF_ROUNDS = 50_000


@dataclass(frozen=True)
class PfxContents:
    """What a password opened: the key, its certificate and the rest of the chain."""

    key: SigningKey
    cert: x509.Certificate
    friendly_name: bytes | None
    chain: tuple[pkcs12.PKCS12Certificate, ...]


def entra_pfx(
    key: SigningKey,
    cert: x509.Certificate,
    chain: tuple[x509.Certificate | pkcs12.PKCS12Certificate, ...],
    password: bytes,
    name: bytes | None,
) -> bytes:
    """A .pfx with key and certificates under pbeWithSHA1And3-KeyTripleDES-CBC and a SHA-1 MAC."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 - the MAC Entra's reader accepts
        .build(password)
    )
    return pkcs12.serialize_key_and_certificates(name, key, cert, chain, encryption)


def open_pfx(data: bytes, password: bytes, where: str) -> pkcs12.PKCS12KeyAndCertificates:
    """Whatever the .pfx holds; a one-line ToolError for a wrong password or a damaged file."""
    try:
        return pkcs12.load_pkcs12(data, password)
    except ValueError as exc:
        # cryptography says "Invalid password or PKCS12 data" when the MAC does not verify.
        if "password" in str(exc).lower():
            raise ToolError(
                f"wrong password for {where} (or the file is not a PKCS#12 file)"
            ) from exc
        raise ToolError(f"{where} is not a PKCS#12 file (or it is truncated)") from exc


def load_pfx(data: bytes, password: bytes, where: str) -> PfxContents:
    """Open a .pfx; it must hold an RSA or EC private key and the certificate that matches it."""
    loaded = open_pfx(data, password, where)
    if loaded.key is None:
        raise ToolError(f"{where} holds no private key: expected a .pfx exported with its key")
    if loaded.cert is None:
        raise ToolError(f"{where} holds a private key but no certificate for it")
    key = check_key_type(loaded.key, where)
    cert = loaded.cert.certificate
    if public_bytes(cert.public_key()) != public_bytes(key.public_key()):
        raise ToolError(f"{where}: the private key does not belong to the certificate")
    return PfxContents(key, cert, loaded.cert.friendly_name, tuple(loaded.additional_certs))


def check_entra_pfx(pfx: bytes, password: bytes, where: Path) -> None:
    """Refuse to publish a .pfx that would not open, or that Entra would not take."""
    problems = analyse_pfx(pfx, str(where)).problems(has_key=True)
    if problems:
        raise ToolError(f"internal error: the new {where} would be rejected: {', '.join(problems)}")
    load_pfx(pfx, password, str(where))
