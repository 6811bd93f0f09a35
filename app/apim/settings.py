"""The `[apim]` table: what the gateway policy bundle needs, validated against the tier."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.apim.identities import gateway_identities
from app.apim.named_values import NamedValue, check_named_value, key_vault_secrets, named_values
from app.config.model import CertificateAuthConfig
from app.config.reader import Table
from app.errors import ConfigError

TIERS = (
    "consumption",
    "developer",
    "basic",
    "standard",
    "premium",
    "basicv2",
    "standardv2",
    "premiumv2",
)
# rate-limit-by-key: every tier but Consumption.
RATE_LIMIT_TIERS = frozenset(TIERS) - {"consumption"}
# CA certificates cannot be uploaded here, so validate-trust fails for a private CA.
NO_CA_UPLOAD_TIERS = frozenset({"consumption", "basicv2", "standardv2", "premiumv2"})
GATEWAY_AUTH = ("certificate", "basic")
BACKEND_AUTH = ("basic", "certificate")
MAX_CONTENT_BYTES = 102_400  # validate-content max-size ceiling
MAX_RENEWAL_SECONDS = 300  # rate-limit-by-key renewal-period ceiling

_ENTITY_ID = re.compile(r"^(?=.{1,80}$)[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*$")


@dataclass(frozen=True)
class CertificateChecks:
    validate_trust: bool = False
    validate_revocation: bool = False
    validate_not_before: bool = True
    validate_not_after: bool = True


@dataclass(frozen=True)
class RateLimit:
    enabled: bool
    calls: int = 600
    renewal_period: int = 60


@dataclass(frozen=True)
class Backend:
    url: str  # https origin (and optional base path) of the App Service app
    auth: str  # "basic" | "certificate"
    certificate_id: str | None = None  # APIM certificate entity, Key Vault-backed
    username_named_value: str | None = None
    password_named_value: str | None = None


@dataclass(frozen=True)
class ApimSettings:
    source: str
    tier: str
    gateway_auth: tuple[str, ...]
    gateway_basic_named_values: tuple[str, ...]
    max_body_bytes: int
    allowed_ips: tuple[str, ...]  # normalised IPv4 CIDRs (strings: config check prints them)
    certificate_checks: CertificateChecks
    rate_limit: RateLimit
    backend: Backend
    named_values: tuple[NamedValue, ...]  # exactly those the rendered policy references


def parse_apim(table: Table, certificate: CertificateAuthConfig) -> ApimSettings:
    """Validate `[apim]` (and what it needs of `[auth.certificate]`) into ApimSettings."""
    if not table.has("tier"):
        raise table.error("tier", f"missing: expected one of {', '.join(TIERS)}")
    tier = table.choice("tier", TIERS, "")
    gateway_auth = table.str_list("gateway_auth", ("certificate",))
    for i, method in enumerate(gateway_auth):
        if method not in GATEWAY_AUTH:
            raise table.error(
                f"gateway_auth[{i}]", f"expected 'certificate' or 'basic', got {method!r}"
            )
    if not gateway_auth or len(set(gateway_auth)) != len(gateway_auth):
        raise table.error(
            "gateway_auth",
            "expected 'certificate' and/or 'basic', each once: "
            "the gateway must authenticate its callers",
        )
    basic_values = table.str_list("gateway_basic_named_values")
    if "basic" in gateway_auth:
        if not basic_values:
            raise table.error(
                "gateway_basic_named_values",
                "missing: 'basic' is in "
                "gateway_auth, name the named value(s) holding the credential",
            )
        for i, name in enumerate(basic_values):
            check_named_value(table, f"gateway_basic_named_values[{i}]", name)
    max_body = table.int("max_body_bytes", 65536, 1, MAX_CONTENT_BYTES)
    allowed_ips = _allowed_ips(table)
    checks = _certificate_checks(table.table("client_certificate"))
    rate_limit = _rate_limit(table.table("rate_limit"), tier)
    backend = _backend(table.table("backend"))
    secret_names = key_vault_secrets(table.table("key_vault_secrets"))
    table.done()
    if "basic" not in gateway_auth:
        basic_values = ()  # configured for later, referenced by nothing now
    settings = ApimSettings(
        source=table.source,
        tier=tier,
        gateway_auth=gateway_auth,
        gateway_basic_named_values=basic_values,
        max_body_bytes=max_body,
        allowed_ips=allowed_ips,
        certificate_checks=checks,
        rate_limit=rate_limit,
        backend=backend,
        named_values=named_values(basic_values, backend, secret_names, table),
    )
    check_against_certificate(settings, certificate)
    return settings


def check_against_certificate(settings: ApimSettings, certificate: CertificateAuthConfig) -> None:
    """The checks that need `[auth.certificate]` too (run again at render time)."""
    source = settings.source
    if "certificate" not in settings.gateway_auth:
        return
    identities = gateway_identities(certificate, source)
    if not identities.identities:
        raise ConfigError(
            f"{source}: apim.gateway_auth: 'certificate' needs at least one "
            "identity: set auth.certificate thumbprints, pin_files, subjects or "
            "issuers"
        )
    trust = settings.certificate_checks.validate_trust
    if identities.needs_trust and not trust:
        raise ConfigError(
            f"{source}: apim.client_certificate.validate_trust: false, but "
            "auth.certificate subjects/issuers are gateway identities and anyone "
            "can make a certificate with a given name; set it to true (the CA "
            "uploaded to APIM) or identify callers by pinned thumbprints only"
        )
    if trust and certificate.ca_bundle and settings.tier in NO_CA_UPLOAD_TIERS:
        raise ConfigError(
            f"{source}: apim.client_certificate.validate_trust: tier "
            f"{settings.tier!r} cannot hold CA certificates, so trust validation "
            "against the private CA of auth.certificate.ca_bundle always fails; "
            "pin thumbprints and set validate_trust = false, or use a classic "
            "tier (developer, basic, standard, premium)"
        )


def _allowed_ips(table: Table) -> tuple[str, ...]:
    networks = []
    for i, text in enumerate(table.str_list("allowed_ips")):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise table.error(
                f"allowed_ips[{i}]", f"expected an IPv4 address or CIDR, got {text!r}"
            ) from exc
        if not isinstance(net, ipaddress.IPv4Network):
            raise table.error(
                f"allowed_ips[{i}]", f"expected IPv4 (APIM's ip-filter), got {text!r}"
            )
        networks.append(str(net))
    return tuple(networks)


def _certificate_checks(t: Table) -> CertificateChecks:
    checks = CertificateChecks(
        validate_trust=t.bool("validate_trust", False),
        validate_revocation=t.bool("validate_revocation", False),
        validate_not_before=t.bool("validate_not_before", True),
        validate_not_after=t.bool("validate_not_after", True),
    )
    t.done()
    return checks


def _rate_limit(t: Table, tier: str) -> RateLimit:
    supported = tier in RATE_LIMIT_TIERS
    enabled = t.bool("enabled", supported)
    if enabled and not supported:
        raise t.error(
            "enabled",
            f"tier {tier!r} has no rate-limit-by-key; set it to false "
            "(limit the caller elsewhere) or choose another tier",
        )
    limit = RateLimit(
        enabled=enabled,
        calls=t.int("calls", 600, 1, 1_000_000),
        renewal_period=t.int("renewal_period", 60, 1, MAX_RENEWAL_SECONDS),
    )
    t.done()
    return limit


def _backend(t: Table) -> Backend:
    url = t.str("url", "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise t.error(
            "url", f"expected the app's https:// URL without query or fragment, got {url!r}"
        )
    if not t.has("auth"):
        raise t.error(
            "auth",
            "missing: expected 'basic' or 'certificate' (how the gateway "
            "authenticates itself to the app)",
        )
    auth = t.choice("auth", BACKEND_AUTH, "")
    certificate_id = t.opt_str("certificate_id")
    username = t.opt_str("username_named_value")
    password = t.opt_str("password_named_value")
    t.done()
    if auth == "certificate":
        if not certificate_id:
            raise t.error(
                "certificate_id",
                "missing: auth = 'certificate' needs the id of the "
                "APIM certificate (Key Vault-backed) the gateway presents",
            )
        if not _ENTITY_ID.match(certificate_id):
            raise t.error(
                "certificate_id",
                f"expected an APIM certificate id (letters, digits, "
                f"'.', '_' and single '-', at most 80), got {certificate_id!r}",
            )
        return Backend(url=url.rstrip("/"), auth=auth, certificate_id=certificate_id)
    for key, name in (("username_named_value", username), ("password_named_value", password)):
        check_named_value(t, key, name or "")
    return Backend(
        url=url.rstrip("/"), auth=auth, username_named_value=username, password_named_value=password
    )
