"""Offline checks of infra/: python -m infra.check [--render] [--no-checkov] [--setup-checkov]."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from infra import bicep_checks, bicepparam, checkov_gate, policy_checks, style_checks
from infra.bicep_checks import InfraCheckError

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
RENDERED = ROOT / "build" / "apim-policies"
RENDERER = ROOT / "app" / "apim" / "render.py"


def render_policies(out: Path = RENDERED) -> None:
    """Render the APIM policy bundle the templates load (python -m app policies render)."""
    if not RENDERER.exists():
        raise InfraCheckError(f"cannot render the policies: expected {RENDERER}, got none")
    command = [sys.executable, "-m", "app", "policies", "render", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - fixed argv, no shell
    if done.returncode != 0:
        raise InfraCheckError(f"rendering the policies failed: exit {done.returncode}")


def run_checks(
    infra: Path, parameters: Path, *, checkov: Path | None, rendered: Path = RENDERED
) -> dict[str, list[str]]:
    """Every offline check by name, with its problems (empty list: passed)."""
    files = bicep_checks.bicep_files(infra)
    main = infra / "main.bicep"
    results: dict[str, list[str]] = {"parse": bicep_checks.check_parse(files)}
    if results["parse"]:
        return results  # nothing else can be read
    params = bicepparam.read_bicepparam(parameters)
    named_values = rendered / "named-values.json"
    policy = rendered / "api-policy.xml"
    steps: dict[str, Callable[[], list[str]]] = {
        "style": lambda: style_checks.check_style(files, infra / "modules"),
        "web app security": lambda: bicep_checks.check_web_app_security(
            infra / "modules" / "app-service.bicep"
        ),
        "parameters": lambda: bicepparam.check_params(main, params),
        "load paths": lambda: bicep_checks.check_load_paths(files),
        "named values": lambda: (
            bicepparam.check_named_values(params, named_values) if named_values.exists() else []
        ),
        "policy vs parameters": lambda: (
            policy_checks.check_policy_matches(params, main, policy) if policy.exists() else []
        ),
        "policy vs operations": lambda: (
            policy_checks.check_policy_operations(main, policy) if policy.exists() else []
        ),
    }
    if checkov is not None:
        steps["checkov"] = lambda: checkov_gate.check_checkov_report(
            checkov_gate.run_checkov(checkov, infra)
        )
    for name, step in steps.items():
        results[name] = step()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.check", description=__doc__)
    parser.add_argument("--parameters", type=Path, default=INFRA / "main.bicepparam")
    parser.add_argument("--render", action="store_true", help="render the policies first")
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov (fast)")
    parser.add_argument(
        "--setup-checkov", action="store_true", help=f"only create {checkov_gate.VENV}"
    )
    args = parser.parse_args(argv)
    try:
        checkov = None if args.no_checkov else checkov_gate.ensure_checkov(ROOT)
        if args.setup_checkov:
            print(f"checkov ready: {checkov}")
            return 0
        if args.render:
            render_policies()
        results = run_checks(INFRA, args.parameters, checkov=checkov)
    except InfraCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name, problems in results.items():
        print(f"{'FAIL' if problems else 'ok  '} {name}")
        for problem in problems:
            print(f"     {problem}")
        failed += bool(problems)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
