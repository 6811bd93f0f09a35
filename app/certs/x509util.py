"""Stable X.509 helpers shared by the service (mTLS, pins) and the certificate tools."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from app.certs.fileio import CertificateFileError, read_file
from app.errors import ConfigError

__all__ = [
    "CertificateFileError",
    "cert_pins",
    "days_left",
    "load_certificate_file",
    "load_pem_bundle",
    "normalise_thumbprint",
    "thumbprint_sha1",
    "thumbprint_sha256",
]

_PEM_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"
# Windows' certificate dialog copies an invisible U+200E in front of the thumbprint; people
# paste it into configuration files, so it is dropped rather than reported as a bad digit.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u200b\u2060\ufeff"), None)
_SEPARATORS = re.compile(r"[\s:]+")
_NOT_HEX = re.compile(r"[^0-9a-f]")


def thumbprint_sha1(cert: x509.Certificate) -> str:
    """SHA-1 of the DER in upper-case hex, as the Azure portal and Windows show it."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - an identifier, not a MAC


def thumbprint_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the DER in upper-case hex (the better pin)."""
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def cert_pins(cert: x509.Certificate) -> frozenset[str]:
    """Both thumbprints in `normalise_thumbprint` form, to intersect with configured pins."""
    return frozenset((thumbprint_sha1(cert).lower(), thumbprint_sha256(cert).lower()))


def normalise_thumbprint(text: str) -> str:
    """Lower-case hex of a SHA-1 (40) or SHA-256 (64) thumbprint; any case, colons, spaces."""
    cleaned = _SEPARATORS.sub("", text.translate(_INVISIBLE)).lower()
    bad = _NOT_HEX.search(cleaned)
    if bad:
        raise ConfigError(
            f"expected a hex thumbprint (0-9, a-f, optional colons or spaces), "
            f"got {bad.group()!r} in {text!r}"
        )
    if len(cleaned) not in (40, 64):
        raise ConfigError(
            "expected a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint, "
            f"got {len(cleaned)} hex digits"
        )
    return cleaned


def load_pem_bundle(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Every certificate of a PEM file (other PEM blocks, such as keys, are ignored)."""
    return _parse_pem(read_file(path), os.fspath(path))


def load_certificate_file(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """The certificates of a PEM bundle, or the one certificate of a DER (.cer) file."""
    data = read_file(path)
    if _PEM_CERT_MARKER in data:
        return _parse_pem(data, os.fspath(path))
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise CertificateFileError(
            f"{os.fspath(path)} is not a certificate: expected PEM "
            "('-----BEGIN CERTIFICATE-----') or a DER certificate"
        ) from exc


def _parse_pem(data: bytes, name: str) -> list[x509.Certificate]:
    if _PEM_CERT_MARKER not in data:
        raise CertificateFileError(
            f"{name} holds no PEM certificate: expected a '-----BEGIN CERTIFICATE-----' block"
        )
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateFileError(f"{name} holds a damaged or truncated PEM certificate") from exc


def days_left(cert: x509.Certificate, now: datetime) -> int:
    """Whole days until notAfter, rounded down: 0 on the last day, negative once expired."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # cryptography's naive datetimes were UTC
    return (cert.not_valid_after_utc - now) // timedelta(days=1)
