"""Client-certificate policies: each small, each says what it expected and what it got.

A certificate is accepted only when every configured policy passes (validity, extended
key usage, pins, chain, subject/issuer). Each failure message starts with the reason
the log reports: expired, not yet valid, wrong extended key usage, unknown pin,
untrusted chain, wrong subject, wrong issuer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from app.certs.x509util import (
    CertificateFileError,
    cert_pins,
    load_certificate_file,
    load_pem_bundle,
    thumbprint_sha1,
    thumbprint_sha256,
)
from app.config.model import CertificateAuthConfig
from app.errors import CertificateError, ConfigError

NameKey = tuple[frozenset[tuple[str, str]], ...]
_ENCOUNTERED = re.compile(r"\s*\(encountered processing .*$", re.DOTALL)
_MAX_CHAIN_DEPTH = 6
# RFC 4514 attribute types are case-insensitive; cryptography knows only upper-case ones.
_LOWER_CASE_NAMES = {
    "cn": NameOID.COMMON_NAME,
    "c": NameOID.COUNTRY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "street": NameOID.STREET_ADDRESS,
    "o": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "dc": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
    "serialnumber": NameOID.SERIAL_NUMBER,
    # How Windows and OpenSSL write emailAddress.
    "e": NameOID.EMAIL_ADDRESS,
    "E": NameOID.EMAIL_ADDRESS,
    "emailaddress": NameOID.EMAIL_ADDRESS,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


class CertificatePolicy(Protocol):
    """One check; raises CertificateError("<reason>: expected ..., got ...") on failure."""

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate]
    ) -> None: ...


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ValidityPolicy:
    """notBefore <= now <= notAfter, give or take a small clock-skew allowance."""

    skew: timedelta

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate] = ()
    ) -> None:
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        allowance = f"allowing {int(self.skew.total_seconds())} s of clock skew"
        if now < start - self.skew:
            raise CertificateError(
                f"not yet valid: expected notBefore at or before now ({_when(now)}, {allowance}), "
                f"got notBefore {_when(start)}"
            )
        if now > end + self.skew:
            raise CertificateError(
                f"expired: expected notAfter at or after now ({_when(now)}, {allowance}), "
                f"got notAfter {_when(end)}"
            )


class EkuPolicy:
    """When the extended key usage extension is present, it must include clientAuth."""

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate]
    ) -> None:
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return  # no EKU extension: any usage, as RFC 5280 and OpenSSL read it
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            got = ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in eku) or "none"
            raise CertificateError(
                f"wrong extended key usage: expected clientAuth (1.3.6.1.5.5.7.3.2), got {got}"
            )


@dataclass(frozen=True)
class PinPolicy:
    """The certificate's SHA-1 or SHA-256 thumbprint is one of the pinned ones."""

    pins: frozenset[str]  # lower-case hex, 40 or 64 digits

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate]
    ) -> None:
        if cert_pins(cert).isdisjoint(self.pins):
            raise CertificateError(
                f"unknown pin: expected one of {len(self.pins)} pinned thumbprint(s), got "
                f"SHA-256 {thumbprint_sha256(cert)} (SHA-1 {thumbprint_sha1(cert)})"
            )


class ChainPolicy:
    """A chain from the certificate to one of the ca_bundle anchors (cryptography's verifier).

    Relaxed from the Web PKI defaults where Entra's and Key Vault's certificates differ
    from web servers' (REFERENCE §2, §7): the leaf may lack a subject alternative name and
    an authority key identifier, so a self-signed certificate listed in the bundle
    itself validates as a chain of one. Validity is ValidityPolicy's job: the chain is
    checked at `now` moved into the leaf's window, so skew is allowed once, not refused here.
    """

    def __init__(self, anchors: Sequence[x509.Certificate]) -> None:
        self._store = Store(list(anchors))
        self._count = len(anchors)
        self._ee = (
            ExtensionPolicy.webpki_defaults_ee()
            .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        )
        self._ca = ExtensionPolicy.webpki_defaults_ca()

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate]
    ) -> None:
        at = min(max(now, cert.not_valid_before_utc), cert.not_valid_after_utc)
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(at)
            .max_chain_depth(_MAX_CHAIN_DEPTH)
            .extension_policies(ca_policy=self._ca, ee_policy=self._ee)
            .build_client_verifier()
        )
        try:
            verifier.verify(cert, list(intermediates))
        except (VerificationError, ValueError) as exc:
            detail = _ENCOUNTERED.sub("", str(exc))
            raise CertificateError(
                f"untrusted chain: expected a chain to one of {self._count} anchor(s) in "
                f"ca_bundle, got issuer {cert.issuer.rfc4514_string()!r} ({detail})"
            ) from exc


def name_key(name: x509.Name) -> NameKey:
    """A comparable form of a DN: attribute types and case-folded, space-collapsed values."""
    return tuple(
        frozenset((a.oid.dotted_string, " ".join(str(a.value).split()).casefold()) for a in rdn)
        for rdn in name.rdns
    )


def parse_name(text: str) -> NameKey:
    """One RFC 4514 DN from the configuration; ConfigError says what was expected."""
    try:
        name = x509.Name.from_rfc4514_string(text, _LOWER_CASE_NAMES)
    except ValueError as exc:
        raise ConfigError(
            f"expected an RFC 4514 distinguished name such as 'CN=api.contoso,O=Contoso', "
            f"got {text!r}"
        ) from exc
    if not name.rdns:
        raise ConfigError(f"expected a non-empty distinguished name, got {text!r}")
    return name_key(name)


def parse_names(texts: Sequence[str], key: str) -> tuple[NameKey, ...]:
    """Several DNs; the ConfigError names the key and the entry."""
    keys = []
    for i, text in enumerate(texts):
        try:
            keys.append(parse_name(text))
        except ConfigError as exc:
            raise ConfigError(f"{key}[{i}]: {exc}") from exc
    return tuple(keys)


class SubjectPolicy:
    """The subject (and the issuer's DN) is one of the configured ones, where configured."""

    def __init__(self, subjects: Sequence[str], issuers: Sequence[str]) -> None:
        self._subjects, self._issuers = tuple(subjects), tuple(issuers)
        self._subject_keys = parse_names(subjects, "subjects")
        self._issuer_keys = parse_names(issuers, "issuers")

    def verify(
        self, cert: x509.Certificate, now: datetime, intermediates: Sequence[x509.Certificate]
    ) -> None:
        if self._subject_keys and name_key(cert.subject) not in self._subject_keys:
            raise CertificateError(
                f"wrong subject: expected one of {list(self._subjects)}, "
                f"got {cert.subject.rfc4514_string()!r}"
            )
        if self._issuer_keys and name_key(cert.issuer) not in self._issuer_keys:
            raise CertificateError(
                f"wrong issuer: expected one of {list(self._issuers)}, "
                f"got {cert.issuer.rfc4514_string()!r}"
            )


@dataclass(frozen=True)
class Trust:
    """What the configuration trusts, loaded once: pins, pinned files' certificates, anchors."""

    pins: frozenset[str]
    pinned: tuple[tuple[str, x509.Certificate], ...]  # (configuration key, certificate)
    anchors: tuple[x509.Certificate, ...]


def load_trust(config: CertificateAuthConfig) -> Trust:
    """Read pin files and the CA bundle; ConfigError names the key and the file's problem."""
    pins = set(config.thumbprints)
    pinned: list[tuple[str, x509.Certificate]] = []
    for i, path in enumerate(config.pin_files):
        key = f"auth.certificate.pin_files[{i}]"
        for cert in _read(key, path, load_certificate_file):
            pinned.append((key, cert))
            pins.add(thumbprint_sha256(cert).lower())
    anchors: list[x509.Certificate] = []
    if config.ca_bundle:
        anchors = _read("auth.certificate.ca_bundle", config.ca_bundle, load_pem_bundle)
    return Trust(frozenset(pins), tuple(pinned), tuple(anchors))


def _read(
    key: str, path: str, loader: Callable[[str], list[x509.Certificate]]
) -> list[x509.Certificate]:
    try:
        return loader(path)
    except CertificateFileError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def build_policies(config: CertificateAuthConfig, trust: Trust) -> tuple[CertificatePolicy, ...]:
    """Every policy the configuration asks for, cheapest first; all must pass."""
    if not trust.pins and not trust.anchors:
        raise ConfigError(
            "auth.certificate: neither thumbprints, pin_files nor ca_bundle is set: "
            "an empty pin list would accept any certificate"
        )
    policies: list[CertificatePolicy] = [
        ValidityPolicy(timedelta(seconds=config.clock_skew_seconds)),
        EkuPolicy(),
    ]
    if trust.pins:
        policies.append(PinPolicy(trust.pins))
    if trust.anchors:
        policies.append(ChainPolicy(trust.anchors))
    if config.subjects or config.issuers:
        try:
            policies.append(SubjectPolicy(config.subjects, config.issuers))
        except ConfigError as exc:
            raise ConfigError(f"auth.certificate.{exc}") from exc
    return tuple(policies)
