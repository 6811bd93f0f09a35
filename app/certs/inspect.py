"""`certs inspect FILE`: what a .pfx/.p12, PEM or DER file holds and whether Entra takes it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from app.certs.describe import CertInfo, describe_certificate
from app.certs.fileio import CertificateFileError, read_file
from app.certs.keys import KeyInfo, describe_key, public_bytes
from app.certs.password import password_available, read_password
from app.certs.pfx import open_pfx
from app.certs.pfx_encryption import PfxEncryption, analyse_pfx
from app.certs.x509util import load_certificate_file
from app.errors import ToolError

_PFX_SUFFIXES = {".pfx", ".p12"}
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class KeyReport:
    """A private key found beside the certificates."""

    info: KeyInfo | None  # None when encrypted (not opened)
    encrypted: bool
    matches: int | None  # index of the certificate it belongs to


@dataclass(frozen=True)
class InspectReport:
    """Everything `certs inspect` found in one file."""

    path: str
    format: str  # "PKCS#12", "PEM", "DER"
    certificates: tuple[CertInfo, ...]
    key: KeyReport | None
    pfx: PfxEncryption | None
    opened: bool = True  # False: a .pfx read without its password (encryption only)
    notes: tuple[str, ...] = ()

    def _has_key(self) -> bool | None:
        return self.key is not None if self.opened else None

    def verdict(self) -> str | None:
        """Entra's verdict for a .pfx, None for other formats."""
        if self.pfx is None:
            return None
        return self.pfx.verdict(has_key=self._has_key())

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the --json output)."""
        result: dict[str, Any] = {
            "file": self.path,
            "format": self.format,
            "certificates": [c.as_json() for c in self.certificates],
            "private_key": None,
            "pkcs12": None,
            "notes": list(self.notes),
        }
        if self.key:
            info = self.key.info
            result["private_key"] = {
                "algorithm": info.algorithm if info else None,
                "size": info.size if info else None,
                "curve": info.curve if info else None,
                "encrypted": self.key.encrypted,
                "matches_certificate": self.key.matches,
            }
        if self.pfx:
            has_key = self._has_key()
            result["pkcs12"] = {
                "bags": [vars(bag) for bag in self.pfx.bags],
                "mac": self.pfx.mac,
                "mac_iterations": self.pfx.mac_iterations,
                "opened": self.opened,
                "problems": list(self.pfx.problems(has_key=has_key)),
                "entra_accepts": not self.pfx.problems(has_key=has_key),
                "verdict": self.verdict(),
            }
        return result

    def lines(self) -> list[str]:
        """The human-readable report."""
        out = [f"{self.path}: {self.format}, {len(self.certificates)} certificate(s)"]
        for i, cert in enumerate(self.certificates, 1):
            mark = " (the key's certificate)" if self.key and self.key.matches == i - 1 else ""
            out += ["", f"certificate {i}{mark}"] + [f"  {line}" for line in cert.lines()]
        if self.key:
            kind = "encrypted" if self.key.encrypted else str(self.key.info)
            out += ["", f"private key  {kind}"]
        if self.pfx:
            out += ["", "encryption"]
            for bag in self.pfx.bags:
                rounds = f", {bag.iterations} iterations" if bag.iterations else ""
                out.append(f"  {bag.holds}: {bag.algorithm}{rounds}")
            rounds = f", {self.pfx.mac_iterations} iterations" if self.pfx.mac_iterations else ""
            out.append(f"  MAC: {self.pfx.mac or 'none'}{rounds}")
            out += ["", f"verdict: {self.verdict()}"]
        out += [f"note: {note}" for note in self.notes]
        return out


def inspect_file(
    path: Path, environ: Mapping[str, str], password_env: str, now: datetime
) -> InspectReport:
    """Read `path` by its content (PEM, DER certificate or PKCS#12) and report on it."""
    data = read_file(path)
    where = str(path)
    if _PEM_BLOCK.search(data):
        return _inspect_pem(data, where, now)
    if path.suffix.lower() in _PFX_SUFFIXES:
        return _inspect_pfx(data, where, environ, password_env, now)
    try:
        certs = load_certificate_file(path)
    except CertificateFileError:
        try:
            analyse_pfx(data, where)
        except ToolError:
            raise ToolError(
                f"{where} is not a certificate file: expected PEM, DER or PKCS#12 (.pfx/.p12)"
            ) from None
        return _inspect_pfx(data, where, environ, password_env, now)
    return InspectReport(
        where, "DER", tuple(describe_certificate(c, now) for c in certs), None, None
    )


def _inspect_pfx(
    data: bytes, where: str, environ: Mapping[str, str], password_env: str, now: datetime
) -> InspectReport:
    encryption = analyse_pfx(data, where)  # needs no password
    if not password_available(password_env, environ):
        note = f"certificates not shown: set {password_env} to the .pfx password to see them"
        return InspectReport(where, "PKCS#12", (), None, encryption, False, (note,))
    password = read_password(password_env, environ, prompt=f"Password for {where}")
    loaded = open_pfx(data, password, where)
    certs = ([loaded.cert.certificate] if loaded.cert else []) + [
        c.certificate for c in loaded.additional_certs
    ]
    key = _key_report(loaded.key, certs) if loaded.key is not None else None
    infos = tuple(describe_certificate(c, now) for c in certs)
    notes: tuple[str, ...] = ()
    if key and key.info and key.info.algorithm != "RSA":
        notes = (f"the key is {key.info}: Entra's documentation recommends RSA 2048",)
    return InspectReport(where, "PKCS#12", infos, key, encryption, True, notes)


def _inspect_pem(data: bytes, where: str, now: datetime) -> InspectReport:
    blocks = {m.group(1).decode() for m in _PEM_BLOCK.finditer(data)}
    certs: list[x509.Certificate] = []
    if "CERTIFICATE" in blocks:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise CertificateFileError(
                f"{where} holds a damaged or truncated PEM certificate"
            ) from exc
    key: KeyReport | None = None
    if "ENCRYPTED PRIVATE KEY" in blocks:
        key = KeyReport(None, True, None)
    elif blocks & {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}:
        key = _key_report(_load_plain_key(data, where), certs)
    if not certs and key is None:
        raise ToolError(
            f"{where} holds no certificate or private key: found PEM block(s) "
            f"{', '.join(sorted(blocks))}"
        )
    infos = tuple(describe_certificate(c, now) for c in certs)
    return InspectReport(where, "PEM", infos, key, None)


def _load_plain_key(data: bytes, where: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ToolError(f"{where} holds a damaged or unsupported private key") from exc


def _key_report(key: PrivateKeyTypes, certs: list[x509.Certificate]) -> KeyReport:
    mine = public_bytes(key.public_key())
    matches = next((i for i, c in enumerate(certs) if public_bytes(c.public_key()) == mine), None)
    return KeyReport(describe_key(key), False, matches)
