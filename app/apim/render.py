"""Render the policy bundle from the templates in apim-policies/, all files or none.

Rendering checklist:
  (1) re-check the configuration against the certificate files as they are now, and derive
      the extension operations' token checks from [auth.entra_token]
  (2) render with StrictUndefined, XML autoescaping and delimiters that leave {{named}} alone
  (3) verify the result: well-formed, <base /> first in every section, named values exactly
      those listed in named-values.json, certificate identities equal to the app's pins,
      the extension operations guarded by the app's token checks (or refused)
  (4) publish: write a temporary directory beside the target, then swap it into place
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import jinja2
from markupsafe import Markup

from app.apim.extension import (
    BEARER_REALM,
    OPERATIONS,
    ExtensionGateway,
    extension_gateway,
    verify_extension,
)
from app.apim.identities import GatewayIdentities, gateway_identities
from app.apim.settings import NO_CA_UPLOAD_TIERS, ApimSettings, check_against_certificate
from app.config.model import AuthConfig, CertificateAuthConfig
from app.errors import ToolError

TEMPLATES = Path(__file__).resolve().parents[2] / "apim-policies"
DEFAULT_OUT = Path("build/apim-policies")
POLICY_FILE = "api-policy.xml"
NAMED_VALUES_FILE = "named-values.json"
README_FILE = "README.txt"
SECTIONS = ("inbound", "backend", "outbound", "on-error")
NAMED_VALUE_REF = re.compile(r"\{\{([^{}]*)\}\}")
# Only these may already be in the output directory: it is replaced as a whole.
_OURS = re.compile(r"^(api-policy\.xml|named-values\.json|README\.txt|operation-[\w.-]+\.xml)$")
_BASIC_REALM = "api-connector"


def render_bundle(settings: ApimSettings, auth: AuthConfig, out_dir: Path) -> list[Path]:
    """Render api-policy.xml, named-values.json and README.txt into out_dir; return the paths."""
    check_against_certificate(settings, auth.certificate)  # (1)
    identities = gateway_identities(auth.certificate, settings.source)
    extension = extension_gateway(auth, settings.backend.auth, settings.source)
    files = render_files(settings, auth.certificate, identities, extension)  # (2)
    verify_policy(files[POLICY_FILE], settings, identities, extension)  # (3)
    return _publish(files, Path(out_dir))  # (4)


def render_files(
    settings: ApimSettings,
    certificate: CertificateAuthConfig,
    identities: GatewayIdentities,
    extension: ExtensionGateway | None,
) -> dict[str, str]:
    """The bundle's files by name, rendered in memory."""
    env = _environment()
    cert_auth = "certificate" in settings.gateway_auth
    context = {
        "source_name": Path(settings.source).name,
        "tier": settings.tier,
        "no_ca_upload": cert_auth and settings.tier in NO_CA_UPLOAD_TIERS,
        "cert_auth": cert_auth,
        "basic_auth": "basic" in settings.gateway_auth,
        "basic_values": settings.gateway_basic_named_values,
        "identities": identities.identities if cert_auth else (),
        "checks": settings.certificate_checks,
        "forwarded_header": certificate.forwarded_header,
        "allowed_ips": [ipaddress.IPv4Network(n) for n in settings.allowed_ips],
        "rate_limit": settings.rate_limit,
        "max_body_bytes": settings.max_body_bytes,
        "backend": settings.backend,
        "named_values": settings.named_values,
        "realm": _BASIC_REALM,
        "extension": extension,
        "extension_operations": OPERATIONS,
        "bearer_realm": BEARER_REALM,
    }
    try:
        policy = env.get_template(f"{POLICY_FILE}.j2").render(context)
    except jinja2.TemplateError as exc:
        raise ToolError(f"{TEMPLATES}: cannot render {POLICY_FILE}: {exc}") from exc
    named = [nv.as_json() for nv in settings.named_values]
    return {
        POLICY_FILE: policy,
        NAMED_VALUES_FILE: json.dumps(named, indent=2) + "\n",
        README_FILE: _readme(settings, identities, cert_auth, extension),
    }


def verify_policy(
    text: str,
    settings: ApimSettings,
    identities: GatewayIdentities,
    extension: ExtensionGateway | None,
) -> None:
    """Refuse to publish a document the gateway or the app would disagree with."""
    try:
        # Our own output, not untrusted input: the stdlib parser is fine here.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise ToolError(f"rendered {POLICY_FILE} is not well-formed XML: {exc}") from exc
    if root.tag != "policies":
        raise ToolError(f"rendered {POLICY_FILE}: root is <{root.tag}>, expected <policies>")
    for name in SECTIONS:
        section = root.find(name)
        if section is None or len(section) == 0 or section[0].tag != "base":
            raise ToolError(f"rendered {POLICY_FILE}: <{name}> must start with <base />")
    used = set(NAMED_VALUE_REF.findall(text))
    listed = {nv.name for nv in settings.named_values}
    if used != listed:
        raise ToolError(
            f"rendered {POLICY_FILE} references named values {sorted(used)}, "
            f"{NAMED_VALUES_FILE} lists {sorted(listed)}"
        )
    rendered = {e.get("thumbprint") for e in root.iter("identity") if e.get("thumbprint")}
    expected = identities.thumbprints if "certificate" in settings.gateway_auth else set()
    if rendered != expected:
        raise ToolError(
            f"rendered {POLICY_FILE} pins {len(rendered)} thumbprints, the app "
            f"{len(expected)}: the gateway and the app would drift apart"
        )
    verify_extension(root, extension, POLICY_FILE)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # every interpolated value lands in XML text or an attribute
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["xml_bool"] = _xml_bool
    env.filters["xml_comment"] = _xml_comment
    env.globals["named_value"] = _named_value
    return env


def _xml_bool(value: object) -> str:
    if not isinstance(value, bool):
        raise jinja2.TemplateRuntimeError(f"expected a boolean, got {value!r}")
    return "true" if value else "false"


def _xml_comment(value: object) -> str:
    text = str(value)
    # "--" ends an XML comment early, a trailing "-" makes "--->": refuse rather than mangle.
    if "--" in text or text.endswith("-"):
        raise jinja2.TemplateRuntimeError(f"{text!r} cannot appear in an XML comment")
    return text


def _named_value(name: object) -> Markup:
    # Names are validated by parse_apim (letters, digits, '.', '_', single '-').
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise jinja2.TemplateRuntimeError(f"not a named value name: {name!r}")
    return Markup("{{" + name + "}}")  # noqa: S704 - the name is checked just above


def _readme(
    settings: ApimSettings,
    identities: GatewayIdentities,
    cert_auth: bool,
    extension: ExtensionGateway | None,
) -> str:
    lines = [
        "API Management policy bundle for the Entra API connector.",
        f"Rendered from {settings.source} by `python -m app policies render`. Do not edit.",
        "",
        f"{POLICY_FILE}: API-scope policy; import with format 'xml'",
        "  (Microsoft.ApiManagement/service/apis/policies, name 'policy').",
        f"{NAMED_VALUES_FILE}: named values the policy references; create them first.",
        "",
        f"Tier: {settings.tier}",
        f"Backend: {settings.backend.url} ({settings.backend.auth})",
    ]
    if settings.backend.certificate_id:
        lines.append(f"Backend certificate id: {settings.backend.certificate_id}")
    if cert_auth:
        lines.append(f"Client certificate identities: {len(identities.identities)} of at most 10")
        lines.extend(f"  thumbprint {tp}" for tp in sorted(identities.thumbprints))
    operations = ", ".join(OPERATIONS)
    if extension is None:
        lines.append(f"Extension operations ({operations}): refused, [auth.entra_token] unset")
    else:
        lines += [
            f"Extension operations ({operations}): validate-jwt",
            f"  openid-config {extension.openid_config_url}",
            f"  issuer {extension.issuer}",
            f"  audience {extension.audience}",
            f"  {extension.client_claim} one of {', '.join(extension.client_ids)}",
        ]
    for nv in settings.named_values:
        kind = f"secret, Key Vault '{nv.key_vault_secret_name}'" if nv.secret else "plain"
        lines.append(f"Named value {nv.name} ({kind}): {nv.description}")
    return "\n".join(lines) + "\n"


def _publish(files: Mapping[str, str], out_dir: Path) -> list[Path]:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ToolError(f"{out_dir}: exists and is not a directory")
        strangers = sorted(p.name for p in out_dir.iterdir() if not _OURS.match(p.name))
        if strangers:
            raise ToolError(
                f"{out_dir}: refusing to replace it, it holds {strangers[0]!r} "
                "which the renderer did not write; choose another output directory"
            )
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    except OSError as exc:
        raise ToolError(f"{parent}: cannot create the output directory: {exc.strerror}") from exc
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from the deploy tooling
        if out_dir.exists():
            retired = parent / f".{out_dir.name}.old-{secrets.token_hex(4)}"
            out_dir.rename(retired)
            try:
                staging.rename(out_dir)
            except OSError:
                retired.rename(out_dir)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ToolError(f"{out_dir}: cannot write the bundle: {exc.strerror}") from exc
    return [out_dir / name for name in files]
