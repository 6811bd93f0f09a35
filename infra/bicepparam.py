"""A small .bicepparam reader (pycep cannot parse them) and the checks against main.bicep."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.bicep_checks import InfraCheckError, parse_bicep, parse_text

_USING = re.compile(r"^using\s+'([^']+)'\s*$")
_PARAM = re.compile(r"^param(\s+)([A-Za-z_][A-Za-z0-9_]*)(\s*)=")
# Functions whose result type is known without evaluating them.
_STRING_FUNCTIONS = {"readEnvironmentVariable", "concat", "format", "string", "toLower", "toUpper"}


@dataclass(frozen=True)
class BicepParams:
    """The parameters a .bicepparam file sets, as pycep value trees."""

    path: Path
    using: Path
    values: dict[str, Any]
    lines: dict[str, int]


def read_bicepparam(path: Path) -> BicepParams:
    """Read `using` and every `param NAME = value` (values may span lines)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InfraCheckError(f"{path}: cannot read: {exc.strerror}") from exc
    using: Path | None = None
    names: list[str] = []
    rewritten = []
    for number, line in enumerate(lines, start=1):
        match_using = _USING.match(line)
        match_param = _PARAM.match(line)
        if match_using:
            if using is not None:
                raise InfraCheckError(
                    f"{path}:{number}: expected one using statement, got a second"
                )
            using = (path.parent / match_using.group(1)).resolve()
            rewritten.append("")
        elif match_param:
            names.append(match_param.group(2))
            # A param assignment has the grammar of a var declaration: let pycep parse it.
            rewritten.append("var" + line[len("param") :])
        else:
            rewritten.append(line)
    if using is None:
        raise InfraCheckError(f"{path}: expected a using '<template>.bicep' statement, got none")
    tree = parse_text("\n".join(rewritten) + "\n", str(path))
    variables = tree.get("variables", {})
    values = {name: _unquote_keys(variables[name]["value"]) for name in names}
    where = {name: int(variables[name].get("__start_line__", 0)) for name in names}
    return BicepParams(path=path, using=using, values=values, lines=where)


def _unquote_keys(value: object) -> object:
    """pycep keeps quotes around quoted object keys ('backend-user'): drop them."""
    if isinstance(value, dict):
        return {
            (k[1:-1] if len(k) > 1 and k[0] == k[-1] == "'" else k): _unquote_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unquote_keys(v) for v in value]
    return value


def value_type(value: object) -> str | None:
    """The Bicep type of a literal value tree; None when it cannot be told without evaluating."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        function = value.get("function")
        if isinstance(function, dict):
            return "string" if function.get("type") in _STRING_FUNCTIONS else None
        return None if "operator" in value else "object"
    return None


def _decorator(parameter: dict[str, Any], kind: str) -> Any:
    for decorator in parameter.get("decorators", []):
        if decorator.get("type") == kind:
            return decorator.get("argument", True)
    return None


def _constraint_problems(name: str, parameter: dict[str, Any], value: object) -> list[str]:
    problems = []
    allowed = _decorator(parameter, "allowed")
    literal = isinstance(value, (str, int, bool)) and not (isinstance(value, str) and "${" in value)
    if allowed is not None and literal and value not in allowed:
        problems.append(f"parameter '{name}': expected one of {allowed}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = _decorator(parameter, "min_value"), _decorator(parameter, "max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"parameter '{name}': expected {low}..{high}, got {value}")
    if isinstance(value, list) or (isinstance(value, str) and literal):
        low, high = _decorator(parameter, "min_length"), _decorator(parameter, "max_length")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            problems.append(f"parameter '{name}': expected length {low}..{high}, got {len(value)}")
    return problems


def check_params(main: Path, params: BicepParams, *, require_every: bool = True) -> list[str]:
    """Problems: params not declared, of the wrong type, off their constraints, or missing."""
    declared: dict[str, Any] = parse_bicep(main).get("parameters", {})
    problems = []
    if params.using != main.resolve():
        problems.append(f"{params.path}: using: expected {main.resolve()}, got {params.using}")
    for name, value in params.values.items():
        where = f"{params.path}:{params.lines[name]}"
        if name not in declared:
            problems.append(f"{where}: parameter '{name}' is not declared in {main.name}")
            continue
        expected, got = declared[name].get("type"), value_type(value)
        if got is not None and expected != got:
            problems.append(f"{where}: parameter '{name}': expected type {expected}, got {got}")
            continue
        if _decorator(declared[name], "secure") and isinstance(value, str) and value:
            problems.append(
                f"{where}: secure parameter '{name}' has a literal value: "
                "read it with readEnvironmentVariable('NAME', '')"
            )
        problems.extend(f"{where}: {p}" for p in _constraint_problems(name, declared[name], value))
    for name, parameter in declared.items():
        if name in params.values:
            continue
        if "default" not in parameter or parameter["default"] is None:
            problems.append(f"{params.path}: required parameter '{name}' of {main.name} is not set")
        elif require_every:
            problems.append(
                f"{params.path}: parameter '{name}' of {main.name} has no example value"
            )
    return problems


def check_named_values(params: BicepParams, named_values_json: Path) -> list[str]:
    """Problems: rendered non-secret named values without a value in apimNamedValues, and strays."""
    try:
        rendered = json.loads(named_values_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{named_values_json}: expected the rendered named values (JSON), got: {exc}"]
    supplied = params.values.get("apimNamedValues", {})
    supplied = supplied if isinstance(supplied, dict) else {}
    problems = []
    needed = set()
    for entry in rendered:
        name = entry.get("name")
        if entry.get("secret"):
            if not entry.get("keyVaultSecretName"):
                problems.append(
                    f"{named_values_json}: secret named value '{name}' has no keyVaultSecretName"
                )
        else:
            needed.add(name)
            if name not in supplied:
                problems.append(
                    f"{params.path}: apimNamedValues: expected a value for named value '{name}' "
                    "(the rendered policy uses it), got none"
                )
    for name in sorted(set(supplied) - needed):
        problems.append(
            f"{params.path}: apimNamedValues: '{name}' is not a non-secret named value of the "
            "rendered policy (secrets belong in Key Vault)"
        )
    return problems
