"""The rendered policy against the deployment parameters: the gateway must reach this app."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

from infra.bicep_checks import parse_bicep
from infra.bicepparam import BicepParams

_TIER = re.compile(r"^\s*Tier: ([A-Za-z0-9]+)\.\s*$", re.MULTILINE)
_OPERATION_ID = re.compile(r'context\.Operation\.Id == "([^"]*)"')
# Entra's custom authentication extensions call these paths with a bearer token only.
EXTENSION_PATH = "/api/authentication-extension/"


def _param(params: BicepParams, main: Path, name: str) -> object:
    """The value the deployment will use: set in the .bicepparam, else the template default."""
    if name in params.values:
        return params.values[name]
    return parse_bicep(main).get("parameters", {}).get(name, {}).get("default")


def check_policy_matches(params: BicepParams, main: Path, policy_xml: Path) -> list[str]:
    """Problems: certificate id, backend host or tier of the rendered policy off the parameters."""
    if _param(params, main, "deployApiManagement") is False:
        return []
    try:
        text = policy_xml.read_text(encoding="utf-8")
        root = ET.fromstring(text)  # noqa: S314 - our own rendered file, not untrusted input
    except (OSError, ET.ParseError) as exc:
        return [f"{policy_xml}: expected the rendered policy (XML), got: {exc}"]
    problems = []
    certificate = root.find(".//inbound/authentication-certificate")
    if certificate is None:
        problems.append(
            f"{policy_xml}: the web app requires a client certificate (clientCertMode "
            "'Required'): expected <authentication-certificate> in inbound "
            "([apim.backend] auth = 'certificate'), got none"
        )
    else:
        got = certificate.get("certificate-id")
        expected = _param(params, main, "apimBackendCertificateId")
        if got != expected:
            problems.append(
                f"{policy_xml}: authentication-certificate certificate-id: expected "
                f"{expected!r} (apimBackendCertificateId), got {got!r}"
            )
        if not _param(params, main, "apimBackendCertificateName"):
            problems.append(
                f"{params.path}: apimBackendCertificateName: expected the Key Vault certificate "
                "behind the policy's authentication-certificate, got ''"
            )
    backend = root.find(".//inbound/set-backend-service")
    app_name = _param(params, main, "webAppName")
    if backend is not None and isinstance(app_name, str) and "${" not in app_name:
        host = urlsplit(backend.get("base-url", "")).hostname
        expected_host = f"{app_name}.azurewebsites.net"
        if host != expected_host:
            problems.append(
                f"{policy_xml}: set-backend-service base-url host: expected {expected_host!r} "
                f"(webAppName), got {host!r}"
            )
    tier = _TIER.search(text)
    sku = _param(params, main, "apimSkuName")
    if tier and isinstance(sku, str) and tier.group(1).lower() != sku.lower():
        problems.append(
            f"{policy_xml}: rendered for tier {tier.group(1)!r}, but apimSkuName is {sku!r}: "
            "set [apim] tier to the deployed tier and render again"
        )
    return problems


def check_policy_operations(main: Path, policy_xml: Path) -> list[str]:
    """Problems: the policy selecting operations by names main.bicep does not give them."""
    try:
        root = ET.fromstring(policy_xml.read_text(encoding="utf-8"))  # noqa: S314 - our own file
    except (OSError, ET.ParseError) as exc:
        return [f"{policy_xml}: expected the rendered policy (XML), got: {exc}"]
    selected: set[str] = set()
    for element in root.iter():
        selected.update(_OPERATION_ID.findall(element.get("condition") or ""))
    variable = parse_bicep(main).get("variables", {}).get("apiOperations", {})
    operations = variable.get("value") if isinstance(variable, dict) else None
    if not isinstance(operations, list):
        return [f"{main}: expected a literal apiOperations array, got {operations!r}"]
    names = {op.get("name") for op in operations if isinstance(op, dict)}
    problems = [
        f"{policy_xml}: selects operation '{name}', but {main.name} apiOperations has none "
        "of that name: render again or rename the operation"
        for name in sorted(selected - names)
    ]
    for op in operations:
        if not isinstance(op, dict) or not str(op.get("urlTemplate", "")).startswith(
            EXTENSION_PATH
        ):
            continue
        if op.get("name") not in selected:
            # The policy would give it the connector checks, which Entra's bearer call fails.
            problems.append(
                f"{main}: apiOperations '{op.get('name')}' ({op.get('urlTemplate')}): expected "
                f"one of the extension operations the policy selects {sorted(selected)}"
            )
    return problems
