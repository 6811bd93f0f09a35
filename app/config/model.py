"""The validated configuration: frozen dataclasses built once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.rules.domains import DomainSet


class Secret:
    """A secret value that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


ENVIRONMENTS = ("production", "development")
AUTH_METHODS = ("basic", "certificate", "api_key", "entra_token", "none")
CERT_SOURCES = ("tls", "forwarded")
STEP_NAMES = (
    "post-federation-signup",
    "post-attribute-collection",
    "pre-token-issuance",
    "attribute-collection-start",
    "attribute-collection-submit",
)


@dataclass(frozen=True)
class BasicCredential:
    username: str
    password: Secret | None  # from password_env
    password_hash: str | None  # "scrypt$..." or "pbkdf2_sha256$..."
    password_env: str | None = None


@dataclass(frozen=True)
class BasicAuthConfig:
    credentials: tuple[BasicCredential, ...] = ()
    realm: str = "api-connector"


@dataclass(frozen=True)
class CertificateAuthConfig:
    sources: tuple[str, ...] = ("tls",)
    forwarded_header: str = "X-ARR-ClientCert"
    trusted_proxies: tuple[str, ...] = ()  # CIDRs
    # The operator states the app is reachable only through the front end (config check warns).
    trust_forwarded_from_any_peer: bool = False
    thumbprints: tuple[str, ...] = ()  # normalised lower-case hex, SHA-1 (40) or SHA-256 (64)
    ca_bundle: str = ""
    subjects: tuple[str, ...] = ()  # RFC 4514 strings
    issuers: tuple[str, ...] = ()
    expiry_warning_days: int = 30
    clock_skew_seconds: int = 300
    # Files whose certificates are pinned (their thumbprints join `thumbprints`).
    pin_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiKeyConfig:
    keys_env: str = "CONNECTOR_API_KEYS"
    keys: tuple[Secret, ...] = ()


@dataclass(frozen=True)
class EntraTokenConfig:
    tenant_id: str = ""
    audience: str = ""
    issuer: str = ""
    jwks_file: str = ""
    jwks_url: str = ""
    allowed_client_ids: tuple[str, ...] = ("99045fe1-7639-4a75-9d4a-577b6ca3810f",)
    leeway_seconds: int = 60


@dataclass(frozen=True)
class AuthConfig:
    methods: tuple[str, ...]
    basic: BasicAuthConfig = BasicAuthConfig()
    certificate: CertificateAuthConfig = CertificateAuthConfig()
    api_key: ApiKeyConfig = ApiKeyConfig()
    entra_token: EntraTokenConfig = EntraTokenConfig()


# A message localised by language tag; "" key never used. Lookup: exact tag, language, fallback.
Messages = dict[str, str]


@dataclass(frozen=True)
class EmailDomainRule:
    allow: DomainSet
    deny: DomainSet
    include_subdomains: bool = True
    require_email: bool = True
    steps: tuple[str, ...] = ()  # empty = every step
    message: Messages = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(len(self.allow) or len(self.deny))


@dataclass(frozen=True)
class IdentityProviderRule:
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    steps: tuple[str, ...] = ()
    message: Messages = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.allow or self.deny)


@dataclass(frozen=True)
class AttributeRule:
    name: str  # short name (custom attributes without their extension_ prefix)
    required: bool = False
    pattern: str | None = None
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    min_length: int | None = None
    max_length: int | None = None
    allowed: tuple[str, ...] | None = None
    steps: tuple[str, ...] = ("post-attribute-collection", "attribute-collection-submit")
    message: Messages = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimRule:
    """Claim enrichment: set (only when absent) or override a returned claim."""

    name: str
    value: str | bool | int
    override: bool = True
    steps: tuple[str, ...] = ()
    when_email_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvitationRule:
    enabled: bool = False
    attribute: str = "InvitationCode"
    required: bool = False
    clear_on_continue: bool = True
    hash_key_env: str = "CONNECTOR_INVITE_KEY"
    hash_key: Secret | None = None
    steps: tuple[str, ...] = ("post-attribute-collection", "attribute-collection-submit")
    message: Messages = field(default_factory=dict)


@dataclass(frozen=True)
class RulesConfig:
    email_domains: EmailDomainRule
    identity_providers: IdentityProviderRule = IdentityProviderRule()
    attributes: tuple[AttributeRule, ...] = ()
    claims: tuple[ClaimRule, ...] = ()
    invitations: InvitationRule = InvitationRule()


@dataclass(frozen=True)
class MessagesConfig:
    fallback_language: str = "en"
    # Block and error messages by key (see app/rules/messages.py DEFAULTS for the keys).
    catalogue: dict[str, Messages] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreConfig:
    url: str = "sqlite:///instance/connector.db"
    statement_timeout_ms: int = 500
    pool_size: int = 4


@dataclass(frozen=True)
class LimitsConfig:
    max_body_bytes: int = 65536


@dataclass(frozen=True)
class Config:
    source: str
    environment: str
    extensions_app_id: str
    version: str
    auth: AuthConfig
    rules: RulesConfig
    messages: MessagesConfig = MessagesConfig()
    store: StoreConfig = StoreConfig()
    limits: LimitsConfig = LimitsConfig()
    apim: Any = None  # app.apim.settings.ApimSettings once parsed
    warnings: tuple[str, ...] = ()

    @property
    def extension_prefix(self) -> str:
        app_id = self.extensions_app_id.replace("-", "")
        return f"extension_{app_id}_" if app_id else "extension_"
