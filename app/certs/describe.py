"""A certificate's facts in plain words, for `certs inspect` (text and JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.certs.keys import KeyInfo, describe_key
from app.certs.x509util import days_left, thumbprint_sha1, thumbprint_sha256

_KEY_USAGES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


@dataclass(frozen=True)
class CertInfo:
    """What `certs inspect` reports about one certificate."""

    subject: str
    issuer: str
    self_signed: bool
    serial: str  # upper-case hex, as Windows shows it
    not_before: datetime
    not_after: datetime
    days_left: int
    state: str  # "valid", "expired", "not yet valid"
    key: KeyInfo
    key_usage: tuple[str, ...] | None  # None: no extension
    extended_key_usage: tuple[str, ...] | None  # None: no extension (any use)
    san: tuple[str, ...] | None
    is_ca: bool
    sha1: str
    sha256: str

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict; datetimes as ISO 8601 UTC."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "self_signed": self.self_signed,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left,
            "state": self.state,
            "key": {
                "algorithm": self.key.algorithm,
                "size": self.key.size,
                "curve": self.key.curve,
            },
            "key_usage": list(self.key_usage) if self.key_usage is not None else None,
            "extended_key_usage": (
                list(self.extended_key_usage) if self.extended_key_usage is not None else None
            ),
            "san": list(self.san) if self.san is not None else None,
            "is_ca": self.is_ca,
            "sha1": self.sha1,
            "sha256": self.sha256,
        }

    def lines(self) -> list[str]:
        """Aligned `label  value` lines for a terminal."""
        if self.state == "expired":
            left = expired_ago(self.days_left)
        elif self.state == "not yet valid":
            left = "not yet valid"
        else:
            left = f"{self.days_left} day(s) left"
        rows = [
            ("subject", self.subject or "(empty)"),
            ("issuer", f"{self.issuer} (self-signed)" if self.self_signed else self.issuer),
            ("serial", self.serial),
            (
                "valid",
                f"{self.not_before:%Y-%m-%d %H:%M} to {self.not_after:%Y-%m-%d %H:%M} UTC ({left})",
            ),
            ("key", str(self.key)),
            ("key usage", ", ".join(self.key_usage) if self.key_usage is not None else "(none)"),
            (
                "EKU",
                ", ".join(self.extended_key_usage)
                if self.extended_key_usage is not None
                else "(no extension: any use)",
            ),
            ("SAN", ", ".join(self.san) if self.san is not None else "(none)"),
            ("CA", "yes" if self.is_ca else "no"),
            ("SHA-1", f"{self.sha1} (the thumbprint the Azure portal shows)"),
            ("SHA-256", self.sha256),
        ]
        return [f"{label:<11} {value}" for label, value in rows]


def expired_ago(days_left: int) -> str:
    """ "expired N day(s) ago" from a negative, rounded-down days_left."""
    whole = -days_left - 1  # days_left is floored: -2.5 days gives -3
    return f"expired {whole} day(s) ago" if whole else "expired less than a day ago"


def describe_certificate(cert: x509.Certificate, now: datetime) -> CertInfo:
    """The facts `certs inspect` shows, read from `cert` as of `now`."""
    if now < cert.not_valid_before_utc:
        state = "not yet valid"
    elif now > cert.not_valid_after_utc:
        state = "expired"
    else:
        state = "valid"
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        self_signed=_self_signed(cert),
        serial=f"{cert.serial_number:X}",
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=days_left(cert, now),
        state=state,
        key=describe_key(cert.public_key()),
        key_usage=_key_usage(cert),
        extended_key_usage=_eku(cert),
        san=_san(cert),
        is_ca=_is_ca(cert),
        sha1=thumbprint_sha1(cert),
        sha256=thumbprint_sha256(cert),
    )


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _key_usage(cert: x509.Certificate) -> tuple[str, ...] | None:
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        return None
    names = [name for attr, name in _KEY_USAGES if getattr(usage, attr)]
    if usage.key_agreement:
        names += [
            n
            for a, n in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
            if getattr(usage, a)
        ]
    return tuple(names)


def _eku(cert: x509.Certificate) -> tuple[str, ...] | None:
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)


def _san(cert: x509.Certificate) -> tuple[str, ...] | None:
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return None
    prefixes: dict[type, str] = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }
    return tuple(
        f"{prefixes.get(type(entry), type(entry).__name__)}:{entry.value}" for entry in san
    )


def _is_ca(cert: x509.Certificate) -> bool:
    constraints = _extension(cert, x509.BasicConstraints)
    return bool(constraints and constraints.ca)
