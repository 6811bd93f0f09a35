"""checkov in its own virtual environment, and the verdict on its JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.bicep_checks import InfraCheckError

VENV = ".venv-checkov"
CHECKOV_SPEC = "checkov==3.3.*"
# checkov pins pycep-parser 0.5.1, which silently skips files using nullable types or
# lambdas (REFERENCE §6): replace it, without letting pip undo the rest of checkov's pins.
PYCEP_SPEC = "pycep-parser==0.7.1"
PYCEP_VERSION = "0.7.1"
MIN_REASON_CHARS = 20
TIMEOUT_SECONDS = 600


def _run(command: list[str], what: str, timeout: int = TIMEOUT_SECONDS) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfraCheckError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise InfraCheckError(f"{what}: exit {done.returncode}: {' | '.join(tail)}")
    return done.stdout


def _pycep_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('pycep-parser'))"
    return _run([str(python), "-c", code], "reading pycep-parser's version").strip()


def ensure_checkov(root: Path) -> Path:
    """Path of a checkov 3.3 executable using pycep-parser 0.7.1, creating the venv if needed."""
    venv = root / VENV
    python, checkov = venv / "bin" / "python", venv / "bin" / "checkov"
    if not checkov.exists():
        _run([sys.executable, "-m", "venv", str(venv)], f"creating {venv}")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, CHECKOV_SPEC], f"installing {CHECKOV_SPEC} into {venv}")
    if _pycep_version(python) != PYCEP_VERSION:
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, "--no-deps", PYCEP_SPEC], f"installing {PYCEP_SPEC} into {venv}")
    got = _pycep_version(python)
    if got != PYCEP_VERSION:
        raise InfraCheckError(f"{venv}: expected pycep-parser {PYCEP_VERSION}, got {got}")
    return checkov


def run_checkov(checkov: Path, directory: Path) -> dict[str, Any]:
    """checkov's JSON report on the .bicep files under the directory (never downloads anything)."""
    command = [str(checkov), "-d", str(directory), "--framework", "bicep", "--skip-download"]
    command += ["--output", "json", "--compact", "--soft-fail"]
    out = _run(command, "running checkov")
    try:
        report = json.loads(out)
    except ValueError as exc:
        raise InfraCheckError(f"checkov: expected a JSON report, got {out[:200]!r}") from exc
    # One framework gives one object; checkov answers a list when several ran.
    if isinstance(report, list):
        report = next((r for r in report if r.get("check_type") == "bicep"), {})
    if not isinstance(report, dict):
        raise InfraCheckError(f"checkov: expected a JSON object, got {type(report).__name__}")
    return report


def check_checkov_report(report: dict[str, Any]) -> list[str]:
    """Problems: parse errors, failed checks, and skips without a written reason."""
    summary = report.get("summary", {})
    results = report.get("results", {})
    problems = []
    if summary.get("parsing_errors", 0) != 0 or results.get("parsing_errors"):
        files = ", ".join(results.get("parsing_errors", [])) or "see checkov's log"
        problems.append(
            f"checkov: expected parsing_errors == 0, got {summary.get('parsing_errors')} ({files})"
        )
    if not summary.get("passed") and not results.get("failed_checks"):
        problems.append("checkov: expected checks to run, got none (no resources parsed?)")
    for check in results.get("failed_checks", []):
        lines = check.get("file_line_range", [])
        problems.append(
            f"checkov: {check.get('check_id')} failed on {check.get('resource')} "
            f"({check.get('file_path')}:{lines[0] if lines else '?'}): {check.get('check_name')}"
        )
    for check in results.get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        if reason == "No comment provided" or len(reason.strip()) < MIN_REASON_CHARS:
            problems.append(
                f"checkov: {check.get('check_id')} skipped on {check.get('resource')} "
                f"({check.get('file_path')}) without a written reason: expected "
                f"'//checkov:skip=ID:<why>' of at least {MIN_REASON_CHARS} characters, "
                f"got {reason!r}"
            )
    return problems
