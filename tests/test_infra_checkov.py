"""checkov 3.3 (bicep framework, own venv) passes on infra/ and rejects weakened copies."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra import checkov_gate
from infra.bicep_checks import InfraCheckError

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable, created once (~30 s, needs PyPI) when .venv-checkov is missing."""
    try:
        return checkov_gate.ensure_checkov(ROOT)
    except InfraCheckError as exc:
        pytest.skip(f"checkov's venv ({checkov_gate.VENV}) cannot be created here: {exc}")


def broken_copy(root: Path) -> Path:
    """A copy of infra/ with three breakages, so one checkov run covers all of them."""
    infra = root / "infra"
    shutil.copytree(INFRA, infra, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    app = infra / "modules" / "app-service.bicep"
    app.write_text(
        app.read_text().replace("clientCertEnabled: true", "clientCertEnabled: false"), "utf-8"
    )
    apim = infra / "modules" / "apim-service.bicep"
    text = apim.read_text()
    start = text.index("//checkov:skip=CKV_AZURE_107:")
    end = text.index("\n", start)
    apim.write_text(text[:start] + "//checkov:skip=CKV_AZURE_107" + text[end:], "utf-8")
    (infra / "modules" / "broken.bicep").write_text(
        "resource x 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  properties: {\n",
        "utf-8",
    )
    return infra


@pytest.fixture(scope="session")
def reports(
    checkov: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    """checkov on infra/ and on the broken copy, side by side (each run takes seconds)."""
    broken = broken_copy(tmp_path_factory.mktemp("broken"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = pool.submit(checkov_gate.run_checkov, checkov, INFRA)
        weakened = pool.submit(checkov_gate.run_checkov, checkov, broken)
        return real.result(), weakened.result()


@pytest.fixture
def real_report(reports: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return reports[0]


@pytest.fixture
def broken_report(reports: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return reports[1]


def test_checkov_uses_pycep_0_7_1(checkov: Path) -> None:
    python = checkov.parent / "python"
    assert checkov_gate._pycep_version(python) == checkov_gate.PYCEP_VERSION


def test_infra_passes_checkov_with_only_justified_skips(real_report: dict[str, Any]) -> None:
    assert checkov_gate.check_checkov_report(real_report) == []
    summary = real_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0
    assert summary["passed"] >= 15
    checked = {c["check_id"] for c in real_report["results"]["passed_checks"]}
    # The web app's security posture is what checkov actually verified.
    assert {"CKV_AZURE_17", "CKV_AZURE_14", "CKV_AZURE_15", "CKV_AZURE_78"} <= checked
    assert {"CKV_AZURE_71", "CKV_AZURE_213", "CKV_AZURE_72"} <= checked


@pytest.mark.parametrize(
    "message",
    [
        "checkov: expected parsing_errors == 0, got 1",
        "checkov: CKV_AZURE_17 failed on Microsoft.Web/sites.site",
        "checkov: CKV_AZURE_107 skipped on Microsoft.ApiManagement/service.service",
    ],
)
def test_weakened_copy_is_rejected(broken_report: dict[str, Any], message: str) -> None:
    problems = checkov_gate.check_checkov_report(broken_report)
    assert any(p.startswith(message) for p in problems), problems


def test_a_skip_without_a_reason_says_how_to_write_one(broken_report: dict[str, Any]) -> None:
    problems = checkov_gate.check_checkov_report(broken_report)
    skip = next(p for p in problems if "CKV_AZURE_107" in p)
    assert "without a written reason" in skip
    assert "got 'No comment provided'" in skip


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (
            {"summary": {"passed": 0, "failed": 0, "parsing_errors": 0}, "results": {}},
            "expected checks to run, got none",
        ),
        (
            {
                "summary": {"passed": 3, "parsing_errors": 0},
                "results": {
                    "skipped_checks": [
                        {"check_id": "CKV_X", "check_result": {"suppress_comment": "meh"}}
                    ]
                },
            },
            "CKV_X skipped",
        ),
    ],
)
def test_report_verdict_on_synthetic_reports(report: dict[str, Any], message: str) -> None:
    problems = checkov_gate.check_checkov_report(report)
    assert any(message in p for p in problems), problems
