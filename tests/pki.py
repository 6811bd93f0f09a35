"""A small test PKI built with `cryptography`, for the certificate tooling and the mTLS tests.

It never uses the app's own certificate code, so tests of that code compare against an
independent builder. Every maker returns an `Issued`; times default to "valid since an hour
ago for 30 days" (CAs: 365 days).

Keys
    new_key(kind="ec-p256")                 fresh key: "rsa2048" | "rsa3072" | "ec-p256"
                                            (EC is the default because RSA takes ~50 ms a key)
    Any maker also takes key=... (an Ed25519 key works too, for "unsupported key" cases).

Authorities
    root_ca(subject="CN=Test Root CA", *, key_type, not_before, not_after, key) -> Issued
    intermediate_ca(issuer, subject="CN=Test Intermediate CA", *, ...same) -> Issued

Leaves (all options keyword-only)
    leaf(subject="CN=client.test", *, issuer=None, key_type="ec-p256", key=None,
         san=FROM_CN, eku="client", key_usage=("digital_signature",),
         not_before=None, not_after=None) -> Issued
        issuer      an Issued CA, or None for self-signed
        san         FROM_CN: one DNS name from the CN; None: no SAN extension;
                    or a sequence of DNS names / IP address strings
        eku         "client" | "server" | "both" | "none" (no EKU extension at all)
                    | a sequence of ObjectIdentifier
        key_usage   names of x509.KeyUsage flags (e.g. "digital_signature",
                    "key_encipherment"), or None for no KeyUsage extension
        not_before / not_after   datetimes; use ago(days) / from_now(days) to make expired
                    (not_after=ago(1)) or not-yet-valid (not_before=from_now(1)) ones
    client_cert(subject="CN=client.test", *, issuer=None, **leaf options)   eku="client"
    server_cert(issuer=None, *, hosts=("localhost", "127.0.0.1"), subject="CN=localhost",
                **leaf options)                                              eku="server"
    impostor(other, **leaf options) -> Issued
        self-signed, fresh key, same subject and SAN as `other`: passes a subject check,
        must fail thumbprint pinning and chain validation.

Issued (frozen dataclass)
    .cert .key .chain (issuing CAs' certificates, nearest first, root last; () if self-signed)
    .issuer (the issuing Issued or None)   .name (the subject CN)
    .cert_pem  .key_pem (PKCS#8, unencrypted)  .chain_pem (cert then chain)  .der
    .sha1 .sha256 (upper-case hex of the DER)

Writers (create parent directories; private files are 0600 from creation)
    write_pem(path, *certs) -> Path                  certificates as a PEM bundle
    write_key(path, issued_or_key, password=None) -> Path
    write_files(directory, name, issued) -> PemFiles(cert, key, chain)
        NAME.pem (cert), NAME.key (unencrypted key), NAME-chain.pem (cert + chain)
    write_pfx(path, issued, password, *, encryption="entra" | "aes" | "none",
              with_key=True, with_chain=True, name=None) -> Path
        "entra": PBES1 3DES + SHA-1 MAC (what Entra accepts); "aes": PBES2 AES-256 + SHA-256
        MAC (OpenSSL 3 / recent Windows default, what Entra rejects)
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Ed25519 is accepted as an explicit `key=` for "unsupported key type" tests.
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
KeyType = Literal["rsa2048", "rsa3072", "ec-p256"]
Eku = Literal["client", "server", "both", "none"] | Sequence[x509.ObjectIdentifier]
FROM_CN = "<from-cn>"

_EKUS = {
    "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "server": [ExtendedKeyUsageOID.SERVER_AUTH],
    "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    "none": None,
}
_USAGE_FLAGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def ago(days: float) -> datetime:
    """The moment `days` ago (UTC)."""
    return datetime.now(UTC) - timedelta(days=days)


def from_now(days: float) -> datetime:
    """The moment `days` from now (UTC)."""
    return datetime.now(UTC) + timedelta(days=days)


def new_key(kind: KeyType = "ec-p256") -> Key:
    """A fresh private key."""
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    sizes = {"rsa2048": 2048, "rsa3072": 3072}
    return rsa.generate_private_key(public_exponent=65537, key_size=sizes[kind])


@dataclass(frozen=True)
class Issued:
    """A certificate, its key, and the CA certificates above it."""

    cert: x509.Certificate
    key: Key
    chain: tuple[x509.Certificate, ...] = ()
    issuer: Issued | None = None

    @property
    def name(self) -> str:
        return str(self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.cert, *self.chain)
        )

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def sha1(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()

    @property
    def sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex().upper()


def _sign(
    subject: str | x509.Name,
    *,
    issuer: Issued | None,
    key: Key,
    ca: bool,
    san: Sequence[str] | str | None,
    eku: Eku,
    key_usage: Sequence[str] | None,
    not_before: datetime | None,
    not_after: datetime | None,
    days: int,
) -> Issued:
    name = subject if isinstance(subject, x509.Name) else x509.Name.from_rfc4514_string(subject)
    start = not_before or ago(1 / 24)
    if not_after is not None and not_before is None:
        start = min(start, not_after - timedelta(days=days))  # an expired one: valid before
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if key_usage is not None:
        flags = dict.fromkeys(_USAGE_FLAGS, False) | dict.fromkeys(key_usage, True)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    oids = _EKUS[eku] if isinstance(eku, str) else list(eku)
    if oids is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    if san == FROM_CN:
        cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        san = [str(cn[0].value)] if cn else None
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(v) for v in san]), critical=False
        )
    signer = issuer.key if issuer else key
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer, digest)
    chain = (issuer.cert, *issuer.chain) if issuer else ()
    return Issued(cert, key, chain, issuer)


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def root_ca(
    subject: str = "CN=Test Root CA",
    *,
    key_type: KeyType = "ec-p256",
    key: Key | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A self-signed root CA (keyCertSign, cRLSign; no EKU, no SAN)."""
    return _ca(subject, None, key or new_key(key_type), not_before, not_after)


def intermediate_ca(
    issuer: Issued,
    subject: str = "CN=Test Intermediate CA",
    *,
    key_type: KeyType = "ec-p256",
    key: Key | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A CA issued by `issuer`."""
    return _ca(subject, issuer, key or new_key(key_type), not_before, not_after)


def _ca(
    subject: str,
    issuer: Issued | None,
    key: Key,
    not_before: datetime | None,
    not_after: datetime | None,
) -> Issued:
    return _sign(
        subject,
        issuer=issuer,
        key=key,
        ca=True,
        san=None,
        eku="none",
        key_usage=("digital_signature", "key_cert_sign", "crl_sign"),
        not_before=not_before,
        not_after=not_after,
        days=365,
    )


def leaf(
    subject: str | x509.Name = "CN=client.test",
    *,
    issuer: Issued | None = None,
    key_type: KeyType = "ec-p256",
    key: Key | None = None,
    san: Sequence[str] | str | None = FROM_CN,
    eku: Eku = "client",
    key_usage: Sequence[str] | None = ("digital_signature",),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """An end-entity certificate, issued by `issuer` or self-signed (see the module doc)."""
    return _sign(
        subject,
        issuer=issuer,
        key=key or new_key(key_type),
        ca=False,
        san=san,
        eku=eku,
        key_usage=key_usage,
        not_before=not_before,
        not_after=not_after,
        days=30,
    )


def client_cert(subject: str = "CN=client.test", **options: object) -> Issued:
    """A leaf with EKU clientAuth (override anything via `leaf` options)."""
    options.setdefault("eku", "client")
    return leaf(subject, **options)  # type: ignore[arg-type]


def server_cert(
    issuer: Issued | None = None,
    *,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    subject: str = "CN=localhost",
    **options: object,
) -> Issued:
    """A TLS server certificate for `hosts` (SAN DNS/IP entries), EKU serverAuth."""
    options.setdefault("eku", "server")
    options.setdefault("key_usage", ("digital_signature", "key_encipherment"))
    return leaf(subject, issuer=issuer, san=list(hosts), **options)  # type: ignore[arg-type]


def impostor(other: Issued, **options: object) -> Issued:
    """Self-signed, fresh key, same subject and SAN as `other`."""
    try:
        names = other.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san: list[str] | None = [str(n.value) for n in names]
    except x509.ExtensionNotFound:
        san = None
    options.setdefault("san", san)
    return leaf(other.cert.subject, issuer=None, **options)  # type: ignore[arg-type]


# --- writers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PemFiles:
    cert: Path
    key: Path
    chain: Path


def _write(path: Path, data: bytes, *, private: bool) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def write_pem(path: Path | str, *certs: x509.Certificate) -> Path:
    """Certificates as one PEM bundle."""
    data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return _write(Path(path), data, private=False)


def write_key(path: Path | str, key: Issued | Key, password: bytes | None = None) -> Path:
    """A PKCS#8 PEM key, mode 0600; encrypted when `password` is given."""
    raw = key.key if isinstance(key, Issued) else key
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = raw.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return _write(Path(path), data, private=True)


def write_files(directory: Path | str, name: str, issued: Issued) -> PemFiles:
    """NAME.pem, NAME.key (unencrypted, 0600) and NAME-chain.pem in `directory`."""
    directory = Path(directory)
    return PemFiles(
        cert=write_pem(directory / f"{name}.pem", issued.cert),
        key=write_key(directory / f"{name}.key", issued),
        chain=write_pem(directory / f"{name}-chain.pem", issued.cert, *issued.chain),
    )


def write_pfx(
    path: Path | str,
    issued: Issued,
    password: bytes,
    *,
    encryption: Literal["entra", "aes", "none"] = "entra",
    with_key: bool = True,
    with_chain: bool = True,
    name: bytes | None = None,
) -> Path:
    """A .pfx of `issued` (see the module doc for the encryption choices)."""
    algorithm: serialization.KeySerializationEncryption
    if encryption == "entra":
        algorithm = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(50_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password)
        )
    elif encryption == "aes":
        algorithm = serialization.BestAvailableEncryption(password)
    else:
        algorithm = serialization.NoEncryption()
    data = pkcs12.serialize_key_and_certificates(
        name,
        issued.key if with_key else None,
        issued.cert,
        list(issued.chain) if with_chain else None,
        algorithm,
    )
    return _write(Path(path), data, private=True)
