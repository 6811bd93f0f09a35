"""Building certificates: a self-signed client, a private CA, a client issued by that CA."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.certs.keys import SigningKey, public_bytes
from app.errors import ToolError

# Backdated a little so a caller whose clock runs slightly behind already sees it as valid
# (Entra skips certificates "whose start date has not passed").
BACKDATE = timedelta(minutes=5)
MAX_DAYS = 3650
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)


@dataclass(frozen=True)
class CertificateSpec:
    """What to put in the certificate besides the key."""

    subject: x509.Name
    days: int
    san: tuple[x509.GeneralName, ...] = ()  # from san_names()
    ca: bool = False


@dataclass(frozen=True)
class Issuer:
    """A CA certificate with its private key, and the chain above it (to ship in a .pfx)."""

    cert: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...]  # cert first, then any certificates above it


def parse_subject(text: str) -> x509.Name:
    """An RFC 4514 subject such as "CN=api.contoso,O=Contoso" that names a CN."""
    try:
        name = x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise ToolError(
            f"--subject {text!r} is not a distinguished name: expected e.g. 'CN=api.contoso'"
        ) from exc
    if common_name(name) is None:
        raise ToolError(f"--subject {text!r} has no CN: expected e.g. 'CN=api.contoso'")
    return name


def common_name(name: x509.Name) -> str | None:
    """The (last) CN of a name, or None."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[-1].value) if values else None


def is_dns_name(text: str) -> bool:
    """A host name of LDH labels (what a SAN dNSName may hold)."""
    labels = text.rstrip(".").split(".")
    return len(text) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


def file_stem(cn: str) -> str:
    """A file name from a CN: unsafe characters become '-'."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", cn).strip("-.")
    if not stem:
        raise ToolError(f"cannot make a file name from CN {cn!r}: give --name")
    return stem


def check_days(days: int) -> int:
    """`days` when it is a sensible validity period."""
    if not 1 <= days <= MAX_DAYS:
        raise ToolError(f"--days: expected 1 to {MAX_DAYS}, got {days}")
    return days


def san_names(values: Sequence[str]) -> tuple[x509.GeneralName, ...]:
    """SAN entries from text: IP addresses as such, everything else as a checked DNS name."""
    names: list[x509.GeneralName] = []
    for value in values:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
            continue
        except ValueError:
            pass
        if not is_dns_name(value):
            raise ToolError(f"--san {value!r}: expected a DNS name or an IP address")
        names.append(x509.DNSName(value.lower()))
    return tuple(names)


def build_certificate(
    spec: CertificateSpec, key: SigningKey, issuer: Issuer | None, now: datetime
) -> x509.Certificate:
    """Sign a certificate for `key`: by `issuer`, or self-signed when there is none."""
    not_after = now + timedelta(days=spec.days)
    if issuer and not_after > issuer.cert.not_valid_after_utc:
        raise ToolError(
            f"--days {spec.days} outlives the issuing CA (valid until "
            f"{issuer.cert.not_valid_after_utc:%Y-%m-%d}): choose fewer days"
        )
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usage.update(key_cert_sign=spec.ca, crl_sign=spec.ca, digital_signature=True)
    public_key = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(spec.subject)
        .issuer_name(issuer.cert.subject if issuer else spec.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=spec.ca, path_length=0 if spec.ca else None), critical=True
        )
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_id(issuer, key), critical=False)
    )
    if not spec.ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    if spec.san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(spec.san)), critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


def _authority_key_id(issuer: Issuer | None, key: SigningKey) -> x509.AuthorityKeyIdentifier:
    if issuer is None:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    try:
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def check_issuer(
    certs: Sequence[x509.Certificate], key: SigningKey, where: str, now: datetime
) -> Issuer:
    """An Issuer when `certs[0]` is a currently valid CA certificate and `key` is its key."""
    cert = certs[0]
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ToolError(f"{where} is not a CA certificate: expected basicConstraints CA:TRUE")
    if public_bytes(cert.public_key()) != public_bytes(key.public_key()):
        raise ToolError(f"--issuer-key does not belong to {where}")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ToolError(
            f"{where} is not valid now: valid {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}"
        )
    return Issuer(cert, key, tuple(certs))
