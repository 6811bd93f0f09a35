"""Read the TOML file, resolve the secrets it names, and validate everything into a Config."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from app.auth.certpolicy import parse_name
from app.auth.passwords import parse_password_hash
from app.certs.x509util import normalise_thumbprint
from app.config.model import (
    AUTH_METHODS,
    CERT_SOURCES,
    ENVIRONMENTS,
    STEP_NAMES,
    ApiKeyConfig,
    AttributeRule,
    AuthConfig,
    BasicAuthConfig,
    BasicCredential,
    CertificateAuthConfig,
    ClaimRule,
    Config,
    EmailDomainRule,
    EntraTokenConfig,
    IdentityProviderRule,
    InvitationRule,
    LimitsConfig,
    Messages,
    MessagesConfig,
    RulesConfig,
    Secret,
    StoreConfig,
)
from app.config.reader import Table
from app.contract.model import normalise_claim_name, normalise_issuer
from app.errors import ConfigError, RequestError
from app.rules.domains import DomainSet, normalise_domain
from app.rules.messages import DEFAULTS

DEFAULT_PATH = "instance/connector.toml"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_APP_ID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)
_MIN_API_KEY = 16
_MIN_HASH_KEY = 32


# Set by the gunicorn master for its workers: its last validated copy of CONNECTOR_CONFIG.
SNAPSHOT_ENV = "CONNECTOR_CONFIG_SNAPSHOT"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("CONNECTOR_CONFIG") or DEFAULT_PATH)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration; raise ConfigError naming file, key and problem."""
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else config_path(env)
    # Under gunicorn, read what the master validated (app/gunicorn_hooks.py), not a file an
    # operator may be editing; messages and `source` still name the operator's file.
    snapshot = env.get(SNAPSHOT_ENV) if path is None else None
    try:
        raw = Path(snapshot or file).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{file}: configuration file not found (set CONNECTOR_CONFIG, or "
            f"run `make run` once to create a development one)"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
    return parse_config(data, str(file), env)


def parse_config(data: Mapping[str, object], source: str, environ: Mapping[str, str]) -> Config:
    """Validate an already-parsed TOML document (tests build these from dicts)."""
    root = Table(data, "", source)
    warnings: list[str] = []
    environment = root.choice("environment", ENVIRONMENTS, "production")
    app_id = root.str("extensions_app_id", "")
    if app_id and not _APP_ID.match(app_id):
        raise root.error(
            "extensions_app_id",
            f"expected the b2c-extensions-app application id "
            f'(a GUID, dashes optional) or "", got {app_id!r}',
        )
    version = root.str("version", "1.0.0")
    if not version:
        raise root.error("version", 'expected a non-empty contract version such as "1.0.0"')
    auth = _auth(root.table("auth"), environment, environ, warnings)
    rules = _rules(root.table("rules"), environ)
    messages = _messages(root.table("messages"))
    store = _store(root.table("store"), environ)
    limits_t = root.table("limits")
    limits = LimitsConfig(max_body_bytes=limits_t.int("max_body_bytes", 65536, 1024, 1 << 20))
    limits_t.done()
    apim = _apim(root, auth.certificate)
    root.done()
    return Config(
        source=source,
        environment=environment,
        extensions_app_id=app_id.replace("-", "").lower(),
        version=version,
        auth=auth,
        rules=rules,
        messages=messages,
        store=store,
        limits=limits,
        apim=apim,
        warnings=tuple(warnings),
    )


def _auth(
    t: Table, environment: str, environ: Mapping[str, str], warnings: list[str]
) -> AuthConfig:
    methods = t.str_list("methods")
    for i, method in enumerate(methods):
        if method not in AUTH_METHODS:
            raise t.error(
                f"methods[{i}]", f"expected one of {', '.join(AUTH_METHODS)}, got {method!r}"
            )
    if len(set(methods)) != len(methods):
        raise t.error("methods", "lists a method twice")
    if not methods:
        raise t.error(
            "methods",
            "no authentication method: at least one of basic, certificate, "
            "entra_token is required (fail closed)",
        )
    production = environment == "production"
    if "none" in methods:
        if production:
            raise t.error("methods", '"none" disables authentication and is refused in production')
        warnings.append('auth.methods includes "none": ANY caller is accepted (development only)')
    if set(methods) <= {"api_key", "none"} and "api_key" in methods and production:
        raise t.error(
            "methods",
            "api_key alone is for development only; combine it with basic "
            "or certificate in production",
        )
    basic = _basic(t.table("basic"), "basic" in methods, environ)
    certificate = _certificate(t.table("certificate"), "certificate" in methods, warnings)
    api_key = _api_key(t.table("api_key"), "api_key" in methods, environ)
    entra_token = _entra_token(t.table("entra_token"), "entra_token" in methods)
    t.done()
    return AuthConfig(
        methods=methods,
        basic=basic,
        certificate=certificate,
        api_key=api_key,
        entra_token=entra_token,
    )


def _basic(t: Table, enabled: bool, environ: Mapping[str, str]) -> BasicAuthConfig:
    realm = t.str("realm", "api-connector")
    if not realm or '"' in realm or "\\" in realm:
        raise t.error("realm", "expected a non-empty realm without quotes or backslashes")
    credentials = []
    for c in t.table_list("credentials"):
        username = c.str("username")
        if not username or ":" in username or any(ord(ch) < 32 for ch in username):
            raise c.error(
                "username",
                "expected a non-empty user name without ':' or control characters (RFC 7617)",
            )
        env_name = c.opt_str("password_env")
        encoded = c.opt_str("password_hash")
        if (env_name is None) == (encoded is None):
            raise c.error("password_env", "set exactly one of password_env and password_hash")
        secret = None
        if env_name is not None and enabled:
            value = environ.get(env_name, "")
            if not value:
                raise c.error(
                    "password_env",
                    f"environment variable {env_name} is unset or "
                    f"empty (no default credentials, ever)",
                )
            secret = Secret(value)
        if encoded is not None:
            try:
                parse_password_hash(encoded)
            except ConfigError as exc:
                raise c.error("password_hash", str(exc)) from exc
        c.done()
        credentials.append(BasicCredential(username, secret, encoded, env_name))
    if enabled and not credentials:
        raise t.error(
            "credentials",
            "basic is enabled in auth.methods but no "
            "[[auth.basic.credentials]] entry is configured",
        )
    t.done()
    return BasicAuthConfig(credentials=tuple(credentials), realm=realm)


def _certificate(t: Table, enabled: bool, warnings: list[str]) -> CertificateAuthConfig:
    sources = t.str_list("sources", ("tls",))
    for i, s in enumerate(sources):
        if s not in CERT_SOURCES:
            raise t.error(f"sources[{i}]", f'expected "tls" or "forwarded", got {s!r}')
    if enabled and not sources:
        raise t.error("sources", 'expected at least one of "tls", "forwarded"')
    header = t.str("forwarded_header", "X-ARR-ClientCert")
    if not _HEADER_NAME.match(header):
        raise t.error(
            "forwarded_header",
            f"expected an HTTP header name made of letters, "
            f"digits and '-' (gunicorn drops names with '_'), got {header!r}",
        )
    proxies = t.str_list("trusted_proxies")
    for i, p in enumerate(proxies):
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError as exc:
            raise t.error(
                f"trusted_proxies[{i}]", f"expected an IP address or CIDR, got {p!r}"
            ) from exc
    any_peer = t.bool("trust_forwarded_from_any_peer", False)
    thumbprints = []
    for i, tp in enumerate(t.str_list("thumbprints")):
        try:
            thumbprints.append(normalise_thumbprint(tp))
        except ConfigError as exc:
            raise t.error(f"thumbprints[{i}]", str(exc)) from exc
    ca_bundle = t.str("ca_bundle", "")
    pin_files = t.str_list("pin_files")
    for key, paths in (("ca_bundle", (ca_bundle,) if ca_bundle else ()), ("pin_files", pin_files)):
        for p in paths:
            if not Path(p).is_file():
                raise t.error(key, f"file not found: {p}")
    subjects = t.str_list("subjects")
    issuers = t.str_list("issuers")
    warn_days = t.int("expiry_warning_days", 30, 0, 3650)
    skew = t.int("clock_skew_seconds", 300, 0, 3600)
    t.done()
    if enabled and not (thumbprints or pin_files or ca_bundle):
        raise t.error(
            "thumbprints",
            "certificate is enabled but neither thumbprints, pin_files "
            "nor ca_bundle is set: an empty pin list would accept any certificate",
        )
    if (subjects or issuers) and not ca_bundle:
        raise t.error("subjects", "subjects/issuers constrain chain validation and need ca_bundle")
    _certificate_files(t, ca_bundle, pin_files, warnings)
    for key, names in (("subjects", subjects), ("issuers", issuers)):
        for i, name in enumerate(names):
            try:
                parse_name(name)
            except ConfigError as exc:
                raise t.error(f"{key}[{i}]", str(exc)) from exc
    if enabled and "forwarded" in sources:
        if any_peer:
            warnings.append(
                "auth.certificate.trust_forwarded_from_any_peer = true: the "
                f"{header} header is believed from ANY peer; safe only if the app "
                "cannot be reached except through the front end"
            )
        elif not proxies:
            raise t.error(
                "trusted_proxies",
                'sources includes "forwarded" but no trusted '
                "proxy is listed: the header would never be believed (list the front "
                "end's addresses, or set trust_forwarded_from_any_peer)",
            )
    return CertificateAuthConfig(
        sources=sources,
        forwarded_header=header,
        trusted_proxies=proxies,
        trust_forwarded_from_any_peer=any_peer,
        thumbprints=tuple(thumbprints),
        ca_bundle=ca_bundle,
        subjects=subjects,
        issuers=issuers,
        expiry_warning_days=warn_days,
        clock_skew_seconds=skew,
        pin_files=pin_files,
    )


def _certificate_files(
    t: Table, ca_bundle: str, pin_files: tuple[str, ...], warnings: list[str]
) -> None:
    """Parse what certificate auth loads, so start-up and `config check` catch a bad file."""
    from datetime import UTC, datetime

    from app.certs.x509util import load_certificate_file, load_pem_bundle

    now = datetime.now(UTC)
    named = [("ca_bundle", ca_bundle, load_pem_bundle)] if ca_bundle else []
    named += [(f"pin_files[{i}]", p, load_certificate_file) for i, p in enumerate(pin_files)]
    for key, path, load in named:
        try:
            certs = load(path)
        except ConfigError as exc:
            raise t.error(key, str(exc)) from exc
        for cert in certs:
            if cert.not_valid_after_utc < now:
                warnings.append(
                    f"{t.key_path(key)}: {cert.subject.rfc4514_string()} in {path} expired on "
                    f"{cert.not_valid_after_utc:%Y-%m-%d}: remove it once its successor is in place"
                )


def _api_key(t: Table, enabled: bool, environ: Mapping[str, str]) -> ApiKeyConfig:
    keys_env = t.str("keys_env", "CONNECTOR_API_KEYS")
    t.done()
    keys: tuple[Secret, ...] = ()
    if enabled:
        raw = environ.get(keys_env, "")
        values = [k for k in re.split(r"[\s,]+", raw) if k]
        if not values:
            raise t.error("keys_env", f"environment variable {keys_env} is unset or empty")
        if any(len(k) < _MIN_API_KEY for k in values):
            raise t.error(
                "keys_env", f"every key in {keys_env} must have at least {_MIN_API_KEY} characters"
            )
        keys = tuple(Secret(k) for k in values)
    return ApiKeyConfig(keys_env=keys_env, keys=keys)


# Tenant and client ids appear verbatim in issuers and azp claims: the dashed GUID form.
_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def _entra_token(t: Table, enabled: bool) -> EntraTokenConfig:
    cfg = EntraTokenConfig(
        tenant_id=t.str("tenant_id", ""),
        audience=t.str("audience", ""),
        issuer=t.str("issuer", ""),
        jwks_file=t.str("jwks_file", ""),
        jwks_url=t.str("jwks_url", ""),
        allowed_client_ids=t.str_list("allowed_client_ids", EntraTokenConfig().allowed_client_ids),
        leeway_seconds=t.int("leeway_seconds", 60, 0, 300),
    )
    t.done()
    if not enabled:
        return cfg
    from app.auth.jwks import SigningKeysUnavailable, check_url, read_jwks_file

    # The tenant id alone gives issuer and keys; without it both must be spelt out.
    if cfg.tenant_id and not _GUID.match(cfg.tenant_id):
        raise t.error("tenant_id", f"expected the tenant id (a GUID), got {cfg.tenant_id!r}")
    if not cfg.tenant_id and not (cfg.issuer and (cfg.jwks_url or cfg.jwks_file)):
        raise t.error(
            "tenant_id",
            "expected the tenant id (a GUID), or else both issuer and jwks_url (or jwks_file)",
        )
    if not cfg.audience:
        raise t.error("audience", "expected the API's application id or URI (the token's aud)")
    if not cfg.allowed_client_ids:
        raise t.error("allowed_client_ids", "expected at least one application id")
    for i, client in enumerate(cfg.allowed_client_ids):
        if not _GUID.match(client):
            raise t.error(f"allowed_client_ids[{i}]", f"expected a GUID, got {client!r}")
    if cfg.jwks_file and cfg.jwks_url:
        raise t.error("jwks_url", "set jwks_file or jwks_url, not both")
    if cfg.issuer and not cfg.issuer.startswith("https://"):
        raise t.error("issuer", f"expected an https:// URL, got {cfg.issuer[:100]!r}")
    if cfg.jwks_url and check_url(cfg.jwks_url):
        raise t.error("jwks_url", check_url(cfg.jwks_url))
    if cfg.jwks_file:
        try:
            read_jwks_file(cfg.jwks_file)
        except SigningKeysUnavailable as exc:
            raise t.error("jwks_file", str(exc)) from exc
    return cfg


def _steps(t: Table, default: tuple[str, ...]) -> tuple[str, ...]:
    steps = t.str_list("steps", default)
    for i, s in enumerate(steps):
        if s not in STEP_NAMES:
            raise t.error(f"steps[{i}]", f"expected one of {', '.join(STEP_NAMES)}, got {s!r}")
    return steps


def _message(t: Table, key: str = "message") -> Messages:
    value = t.raw(key)
    if value is None:
        return {}
    if isinstance(value, str):
        return {"*": value}
    if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise t.error(
        key, 'expected a string or a table of language = "text" (e.g. { en = "...", fr = "..." })'
    )


def _domains(t: Table, key: str) -> tuple[str, ...]:
    out = []
    for i, d in enumerate(t.str_list(key)):
        try:
            out.append(normalise_domain(d.lstrip("*").lstrip(".")))
        except RequestError as exc:
            raise t.error(f"{key}[{i}]", f"{exc}: {d!r}") from exc
    return tuple(out)


def _rules(t: Table, environ: Mapping[str, str]) -> RulesConfig:
    rules = RulesConfig(
        email_domains=_email_rule(t.table("email_domains")),
        identity_providers=_idp_rule(t.table("identity_providers")),
        attributes=tuple(_attribute_rule(a) for a in t.table_list("attributes")),
        claims=tuple(_claim_rule(c) for c in t.table_list("claims")),
        invitations=(
            _invitation_rule(t.table("invitations"), environ)
            if t.has("invitations")
            else InvitationRule()
        ),
    )
    t.done()
    return rules


def _email_rule(ed: Table) -> EmailDomainRule:
    allow, deny = _domains(ed, "allow"), _domains(ed, "deny")
    files = ed.str_list("deny_files")
    for i, f in enumerate(files):
        if not Path(f).is_file():
            raise ed.error(f"deny_files[{i}]", f"file not found: {f}")
    try:
        deny_set = DomainSet.build(deny, files)
    except ConfigError as exc:
        raise ed.error("deny_files", str(exc)) from exc
    rule = EmailDomainRule(
        allow=DomainSet.build(allow),
        deny=deny_set,
        include_subdomains=ed.bool("include_subdomains", True),
        require_email=ed.bool("require_email", True),
        steps=_steps(ed, ()),
        message=_message(ed),
    )
    ed.done()
    return rule


def _idp_rule(ip: Table) -> IdentityProviderRule:
    rule = IdentityProviderRule(
        allow=frozenset(normalise_issuer(x) for x in ip.str_list("allow")),
        deny=frozenset(normalise_issuer(x) for x in ip.str_list("deny")),
        steps=_steps(ip, ()),
        message=_message(ip),
    )
    ip.done()
    return rule


_ATTRIBUTE_STEPS = ("post-attribute-collection", "attribute-collection-submit")


def _attribute_rule(a: Table) -> AttributeRule:
    name = normalise_claim_name(a.str("name"))
    if not name:
        raise a.error("name", 'expected the attribute\'s name, e.g. "postalCode"')
    pattern = a.opt_str("pattern")
    regex = None
    if pattern is not None:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise a.error("pattern", f"invalid regular expression: {exc}") from exc
    min_len = a.int("min_length", -1, 0) if a.has("min_length") else None
    max_len = a.int("max_length", -1, 1) if a.has("max_length") else None
    if min_len is not None and max_len is not None and min_len > max_len:
        raise a.error("min_length", f"expected at most max_length ({max_len}), got {min_len}")
    rule = AttributeRule(
        name=name,
        required=a.bool("required", False),
        pattern=pattern,
        regex=regex,
        min_length=min_len,
        max_length=max_len,
        allowed=a.str_list("allowed") if a.has("allowed") else None,
        steps=_steps(a, _ATTRIBUTE_STEPS),
        message=_message(a),
    )
    a.done()
    return rule


def _claim_rule(c: Table) -> ClaimRule:
    name = normalise_claim_name(c.str("name"))
    value = c.raw("value")
    if not name:
        raise c.error("name", "expected the claim's name")
    if not isinstance(value, str | bool | int):
        raise c.error("value", "expected a string, boolean or integer")
    if name == "email":
        raise c.error("name", "email cannot be overwritten by an API connector")
    rule = ClaimRule(
        name=name,
        value=value,
        override=c.bool("override", True),
        steps=_steps(c, ()),
        when_email_domains=_domains(c, "when_email_domains"),
    )
    c.done()
    return rule


def _invitation_rule(inv: Table, environ: Mapping[str, str]) -> InvitationRule:
    key_env = inv.str("hash_key_env", "CONNECTOR_INVITE_KEY")
    enabled = inv.bool("enabled", True)
    hash_key = None
    if enabled:
        value = environ.get(key_env, "")
        if len(value) < _MIN_HASH_KEY:
            got = "nothing" if not value else "a shorter one"
            raise inv.error(
                "hash_key_env",
                f"environment variable {key_env} must hold a random key of at least "
                f"{_MIN_HASH_KEY} characters (got {got})",
            )
        hash_key = Secret(value)
    rule = InvitationRule(
        enabled=enabled,
        attribute=normalise_claim_name(inv.str("attribute", "InvitationCode")),
        required=inv.bool("required", False),
        clear_on_continue=inv.bool("clear_on_continue", True),
        hash_key_env=key_env,
        hash_key=hash_key,
        steps=_steps(inv, _ATTRIBUTE_STEPS),
        message=_message(inv),
    )
    inv.done()
    return rule


def _messages(t: Table) -> MessagesConfig:
    fallback = t.str("fallback_language", "en")
    catalogue = {}
    for key in t.keys():  # noqa: SIM118 - Table is not a dict
        if key == "fallback_language":
            continue
        if key not in DEFAULTS:
            raise t.error(key, f"unknown message key; expected one of {', '.join(DEFAULTS)}")
        catalogue[key] = _message(t, key)
    t.done()
    return MessagesConfig(fallback_language=fallback, catalogue=catalogue)


def _store(t: Table, environ: Mapping[str, str]) -> StoreConfig:
    url = environ.get("CONNECTOR_STORE_URL") or t.str("url", StoreConfig().url)
    if url.startswith("sqlite:///") and url[len("sqlite:///") :] in ("", ":memory:"):
        raise t.error(
            "url",
            "expected a database file after sqlite:/// (an in-memory database is not shared "
            "between gunicorn workers)",
        )
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise t.error(
            "url", "expected sqlite:///PATH or postgresql://... (CONNECTOR_STORE_URL overrides it)"
        )
    cfg = StoreConfig(
        url=url,
        statement_timeout_ms=t.int("statement_timeout_ms", 500, 10, 10000),
        pool_size=t.int("pool_size", 4, 1, 100),
    )
    t.done()
    return cfg


def _apim(root: Table, certificate: CertificateAuthConfig) -> object:
    if not root.has("apim"):
        return None
    table = root.table("apim")
    try:
        from app.apim.settings import parse_apim
    except ImportError:  # pragma: no cover - the APIM bundle is optional at run time
        return None
    return parse_apim(table, certificate)
