"""The rendered policy against the deployment parameters: the gateway must reach this app."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

from infra.bicep_checks import parse_bicep
from infra.bicepparam import BicepParams

_TIER = re.compile(r"^\s*Tier: ([A-Za-z0-9]+)\.\s*$", re.MULTILINE)


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
