"""Checks on parsed .bicep files: syntax, load-function paths, the web app's security literals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from lark.exceptions import LarkError, UnexpectedInput
from pycep import BicepParser

from app.errors import ToolError

# Bicep's compile-time file functions as pycep names them.
LOAD_FUNCTIONS = {
    "load_text_content": "loadTextContent",
    "load_json_content": "loadJsonContent",
    "load_yaml_content": "loadYamlContent",
    "load_file_as_base64": "loadFileAsBase64",
}
# loadTextContent's limit (REFERENCE §5).
MAX_TEXT_CHARS = 131_072
RENDER_HINT = "render the policies first: python -m app policies render --out build/apim-policies"

START_COMMAND = "gunicorn -c gunicorn.conf.py wsgi:app"
# (path inside the resource, expected value); REFERENCE §4 explains each.
WEB_APP_LITERALS: tuple[tuple[tuple[str, ...], object], ...] = (
    (("kind",), "app,linux"),
    (("identity", "type"), "SystemAssigned"),
    (("properties", "httpsOnly"), True),
    (("properties", "clientCertEnabled"), True),
    (("properties", "clientCertMode"), "Required"),
    (("properties", "clientAffinityEnabled"), False),
    (("properties", "siteConfig", "appCommandLine"), START_COMMAND),
    (("properties", "siteConfig", "minTlsVersion"), "1.2"),
    (("properties", "siteConfig", "ftpsState"), "Disabled"),
    (("properties", "siteConfig", "alwaysOn"), True),
    (("properties", "siteConfig", "healthCheckPath"), "/healthz"),
    (("properties", "siteConfig", "remoteDebuggingEnabled"), False),
)
# Client certificates need a Basic plan or higher: no Free (F*) or Shared (D*) SKUs.
PAID_SKU_PREFIXES = ("B", "S", "P")

_parser: BicepParser | None = None


class InfraCheckError(ToolError):
    """A template cannot be checked at all (unreadable, not Bicep)."""


def bicep_files(infra_dir: Path) -> list[Path]:
    """Every .bicep file under the directory, in a stable order."""
    return sorted(infra_dir.rglob("*.bicep"))


def parse_text(text: str, where: str) -> dict[str, Any]:
    """Parse Bicep source; syntax errors name where:line:column."""
    global _parser  # noqa: PLW0603 - building the LALR parser costs ~0.5 s: build it once
    if _parser is None:
        _parser = BicepParser(add_line_numbers=True)
    try:
        tree = cast(dict[str, Any], _parser.parse(text=text))
    except UnexpectedInput as exc:
        first = str(exc).strip().splitlines()[0]
        raise InfraCheckError(f"{where}:{exc.line}:{exc.column}: not valid Bicep: {first}") from exc
    except (LarkError, ValueError) as exc:
        raise InfraCheckError(f"{where}: not valid Bicep: {exc}") from exc
    return tree


def parse_bicep(path: Path) -> dict[str, Any]:
    """Parse one .bicep file with pycep."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InfraCheckError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_text(text, str(path))


def check_parse(files: list[Path]) -> list[str]:
    """Problems: files pycep cannot parse."""
    problems = []
    for path in files:
        try:
            parse_bicep(path)
        except InfraCheckError as exc:
            problems.append(str(exc))
    return problems


def _load_calls(node: object) -> Iterator[tuple[str, str]]:
    """(Bicep function name, literal path) of every load function call in a parsed tree."""
    if isinstance(node, dict):
        function = node.get("function")
        if isinstance(function, dict) and function.get("type") in LOAD_FUNCTIONS:
            path = function.get("parameters", {}).get("file_path")
            yield LOAD_FUNCTIONS[function["type"]], path if isinstance(path, str) else ""
        for value in node.values():
            yield from _load_calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from _load_calls(value)


def check_load_paths(files: list[Path]) -> list[str]:
    """Problems: load function paths that are missing, too large or not JSON (after rendering)."""
    problems = []
    for path in files:
        for function, relative in _load_calls(parse_bicep(path)):
            where = f"{path}: {function}('{relative}')"
            if not relative or "${" in relative:
                problems.append(f"{where}: the path must be a string literal")
                continue
            target = (path.parent / relative).resolve()
            if not target.is_file():
                problems.append(f"{where}: expected a file at {target}, got none ({RENDER_HINT})")
                continue
            text = target.read_text(encoding="utf-8")
            if function == "loadTextContent" and len(text) > MAX_TEXT_CHARS:
                problems.append(
                    f"{where}: expected at most {MAX_TEXT_CHARS} characters, got {len(text)}"
                )
            if function == "loadJsonContent":
                try:
                    json.loads(text)
                except ValueError as exc:
                    problems.append(f"{where}: expected JSON, got a parse error: {exc}")
    return problems


def _resolve(value: object, variables: dict[str, Any]) -> object:
    """A literal, or the value of the variable a bare identifier names (pycep keeps both as str)."""
    if isinstance(value, str) and value in variables:
        return variables[value].get("value")
    return value


def _dig(node: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _resources_of_type(tree: dict[str, Any], resource_type: str) -> list[tuple[str, Any]]:
    found = []
    for name, resource in tree.get("resources", {}).items():
        if resource.get("type") == resource_type and not resource.get("existing"):
            config = resource.get("config", {})
            # Conditional or looped resources nest the body one level deeper.
            found.append((name, config.get("config", config)))
    return found


def check_web_app_security(module: Path) -> list[str]:
    """Problems: the web app, its plan and publishing policies drifting from REFERENCE §4."""
    tree = parse_bicep(module)
    variables = tree.get("variables", {})
    problems = []
    sites = _resources_of_type(tree, "Microsoft.Web/sites")
    if not sites:
        return [f"{module}: expected a Microsoft.Web/sites resource, got none"]
    for name, site in sites:
        for path, expected in WEB_APP_LITERALS:
            got = _resolve(_dig(site, path), variables)
            if got != expected or type(got) is not type(expected):
                dotted = ".".join(path)
                problems.append(
                    f"{module}: site '{name}' {dotted}: expected {expected!r}, got {got!r}"
                )
        if _dig(site, ("properties", "clientCertExclusionPaths")) not in (None, ""):
            problems.append(
                f"{module}: site '{name}' properties.clientCertExclusionPaths: expected none "
                "(exclusion paths force TLS renegotiation), got "
                f"{_dig(site, ('properties', 'clientCertExclusionPaths'))!r}"
            )
        fx = _resolve(_dig(site, ("properties", "siteConfig", "linuxFxVersion")), variables)
        if not (isinstance(fx, str) and fx.startswith("PYTHON|")):
            problems.append(
                f"{module}: site '{name}' linuxFxVersion: expected PYTHON|<version>, got {fx!r}"
            )
    problems.extend(_check_publishing_policies(module, tree))
    problems.extend(_check_plan(module, tree))
    return problems


def _check_publishing_policies(module: Path, tree: dict[str, Any]) -> list[str]:
    policy_type = "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    denied = {
        body.get("name")
        for _, body in _resources_of_type(tree, policy_type)
        if _dig(body, ("properties", "allow")) is False
    }
    return [
        f"{module}: basic publishing credentials '{kind}': expected a {policy_type} "
        f"named '{kind}' with allow false, got none"
        for kind in ("ftp", "scm")
        if kind not in denied
    ]


def _check_plan(module: Path, tree: dict[str, Any]) -> list[str]:
    problems = []
    for name, plan in _resources_of_type(tree, "Microsoft.Web/serverfarms"):
        if _dig(plan, ("properties", "reserved")) is not True:
            problems.append(f"{module}: plan '{name}' properties.reserved: expected True (Linux)")
        sku = _dig(plan, ("sku", "name"))
        parameter = tree.get("parameters", {}).get(sku) if isinstance(sku, str) else None
        allowed: list[Any] = [sku]
        if parameter is not None:
            decorators = parameter.get("decorators", [])
            allowed = next((d["argument"] for d in decorators if d.get("type") == "allowed"), [])
            if not allowed:
                problems.append(
                    f"{module}: plan '{name}' sku parameter '{sku}' has no @allowed list"
                )
        for value in allowed:
            if not (isinstance(value, str) and value.startswith(PAID_SKU_PREFIXES)):
                problems.append(
                    f"{module}: plan '{name}' sku: expected Basic or higher "
                    f"(client certificates), got {value!r}"
                )
    return problems
