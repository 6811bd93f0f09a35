"""The gateway's certificate identities, derived from the app's own `[auth.certificate]` pins.

APIM's validate-client-certificate matches a `thumbprint` against the SHA-1 of the DER in
upper-case hex; the app also accepts SHA-256 pins. A SHA-256 pin can only be carried to the
gateway when its certificate is one of `pin_files` (both hashes are computed from the file).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.certs.x509util import (
    CertificateFileError,
    cert_pins,
    load_certificate_file,
    normalise_thumbprint,
    thumbprint_sha1,
)
from app.config.model import CertificateAuthConfig
from app.errors import ConfigError

MAX_IDENTITIES = 10  # validate-client-certificate's <identities> limit (and the schema's)

# The attribute names .NET's X500DistinguishedName.Name prints, which is what the gateway
# compares `subject` and `issuer-subject` with (ST is "S" and emailAddress is "E" there).
_DOTNET_NAMES = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "S",
    NameOID.COUNTRY_NAME: "C",
    NameOID.EMAIL_ADDRESS: "E",
    NameOID.STREET_ADDRESS: "STREET",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    NameOID.GIVEN_NAME: "G",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "T",
}
_NEEDS_QUOTES = set(',+="\n<>#;')


@dataclass(frozen=True)
class Identity:
    """One `<identity>`: attributes within it are AND-ed, identities are OR-ed."""

    thumbprint: str | None = None  # SHA-1, upper-case hex
    subject: str | None = None  # .NET form, e.g. "CN=api.contoso, O=Contoso"
    issuer_subject: str | None = None


@dataclass(frozen=True)
class GatewayIdentities:
    identities: tuple[Identity, ...]
    # Every pin the app accepts (lower-case hex, SHA-1 and SHA-256), for the drift check.
    app_pins: frozenset[str]

    @property
    def thumbprints(self) -> frozenset[str]:
        return frozenset(i.thumbprint for i in self.identities if i.thumbprint)

    @property
    def needs_trust(self) -> bool:
        """Subject and issuer identities mean nothing unless the chain is validated."""
        return any(i.subject or i.issuer_subject for i in self.identities)


def dotnet_name(rfc4514: str) -> str:
    """An RFC 4514 DN as .NET prints it: same order, ", " between RDNs, quoted values."""
    name = x509.Name.from_rfc4514_string(rfc4514)
    rdns = []
    # x509.Name keeps ASN.1 order; RFC 4514 and .NET both print most specific first.
    for rdn in reversed(name.rdns):
        parts = []
        for attr in rdn:
            label = _DOTNET_NAMES.get(attr.oid, f"OID.{attr.oid.dotted_string}")
            value = attr.value if isinstance(attr.value, str) else attr.value.hex()
            if set(value) & _NEEDS_QUOTES or value != value.strip():
                value = '"' + value.replace('"', '""') + '"'
            parts.append(f"{label}={value}")
        rdns.append(" + ".join(parts))
    return ", ".join(rdns)


def gateway_identities(certificate: CertificateAuthConfig, source: str) -> GatewayIdentities:
    """The identities the gateway must accept so that it and the app accept the same callers."""
    # Checklist: (1) collect every pin the app accepts; (2) refuse a SHA-256 pin the gateway
    # cannot express; (3) add subject/issuer identities; (4) stay within the gateway's limit.
    key = "auth.certificate"
    # (1) every pin the app accepts: configured thumbprints plus both hashes of each pin file
    pins: set[str] = set()
    sha1_by_sha256: dict[str, str] = {}
    ordered_sha1: list[str] = []
    for i, text in enumerate(certificate.thumbprints):
        try:
            pin = normalise_thumbprint(text)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {key}.thumbprints[{i}]: {exc}") from exc
        pins.add(pin)
        if len(pin) == 40:
            ordered_sha1.append(pin.upper())
    for i, path in enumerate(certificate.pin_files):
        try:
            certs = load_certificate_file(path)
        except CertificateFileError as exc:
            raise ConfigError(f"{source}: {key}.pin_files[{i}]: {exc}") from exc
        for cert in certs:
            both = cert_pins(cert)
            pins |= both
            sha1 = thumbprint_sha1(cert)
            ordered_sha1.append(sha1)
            for pin in both:
                if len(pin) == 64:
                    sha1_by_sha256[pin] = sha1
    # (2) a SHA-256 pin without its certificate cannot be expressed at the gateway
    for i, pin in enumerate(certificate.thumbprints):
        normal = normalise_thumbprint(pin)
        if len(normal) == 64 and normal not in sha1_by_sha256:
            raise ConfigError(
                f"{source}: {key}.thumbprints[{i}]: SHA-256 pin {normal[:16]}... has no SHA-1 "
                "form, and APIM's validate-client-certificate matches SHA-1 thumbprints only; "
                f"add the certificate file to {key}.pin_files (both thumbprints are computed "
                "from it) or pin its SHA-1 thumbprint instead"
            )
    identities = [Identity(thumbprint=tp) for tp in dict.fromkeys(ordered_sha1)]
    # (3) subjects x issuers: both constrain one certificate, so each pair is one identity
    try:
        subjects = [dotnet_name(s) for s in certificate.subjects]
    except ValueError as exc:
        raise ConfigError(f"{source}: {key}.subjects: expected RFC 4514 names: {exc}") from exc
    try:
        issuers = [dotnet_name(s) for s in certificate.issuers]
    except ValueError as exc:
        raise ConfigError(f"{source}: {key}.issuers: expected RFC 4514 names: {exc}") from exc
    if subjects and issuers:
        identities += [Identity(subject=s, issuer_subject=i) for s in subjects for i in issuers]
    else:
        identities += [Identity(subject=s) for s in subjects]
        identities += [Identity(issuer_subject=i) for i in issuers]
    # (4) the gateway's hard limit
    if len(identities) > MAX_IDENTITIES:
        pinned = sum(1 for i in identities if i.thumbprint)
        raise ConfigError(
            f"{source}: {key}: {len(identities)} certificate identities for APIM's "
            f"validate-client-certificate ({pinned} pinned certificates, "
            f"{len(identities) - pinned} subject/issuer pairs), expected at most "
            f"{MAX_IDENTITIES}; remove pins of retired certificates, or identify callers by "
            f"issuer instead: list the CA in {key}.issuers (with ca_bundle) rather than "
            "pinning each certificate"
        )
    return GatewayIdentities(identities=tuple(identities), app_pins=frozenset(pins))
