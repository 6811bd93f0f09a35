"""Azure Verified Modules conventions the templates keep: described parameters, standard outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.bicep_checks import parse_bicep

PREFIXES = ("Required.", "Optional.", "Conditional.")
MODULE_OUTPUTS = ("resourceId", "name")


def _description(parameter: dict[str, Any]) -> str:
    for decorator in parameter.get("decorators", []):
        if decorator.get("type") == "description":
            return str(decorator.get("argument", ""))
    return ""


def check_style(files: list[Path], modules_dir: Path) -> list[str]:
    """Problems: parameters without an AVM-style description, modules without standard outputs."""
    problems = []
    for path in files:
        tree = parse_bicep(path)
        for name, parameter in tree.get("parameters", {}).items():
            text = _description(parameter)
            required = parameter.get("default") is None
            if not text.startswith(PREFIXES):
                problems.append(
                    f"{path}: parameter '{name}': expected @description('Required. ...' or "
                    f"'Optional. ...'), got {text!r}"
                )
            elif required and text.startswith("Optional."):
                problems.append(
                    f"{path}: parameter '{name}' has no default but is described 'Optional.'"
                )
            elif not required and text.startswith("Required."):
                problems.append(
                    f"{path}: parameter '{name}' has a default but is described 'Required.'"
                )
        outputs = tree.get("outputs", {})
        if path.parent.resolve() == modules_dir.resolve():
            problems.extend(
                f"{path}: expected an output '{output}' (AVM convention), got none"
                for output in MODULE_OUTPUTS
                if output not in outputs
            )
    return problems
