"""Offline checks of infra/*.bicep: parse, AVM style, web app security literals, load paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra import bicep_checks, style_checks
from infra.bicep_checks import InfraCheckError

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
APP_MODULE = Path("modules") / "app-service.bicep"


def copy_infra(tmp_path: Path) -> Path:
    """A private copy of infra/ (templates only) that a test may break."""
    target = tmp_path / "infra"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def write_rendered(root: Path, policy: str = "<policies />", named_values: str = "[]") -> Path:
    """A minimal stand-in for build/apim-policies beside the copied infra/."""
    out = root / "build" / "apim-policies"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api-policy.xml").write_text(policy, encoding="utf-8")
    (out / "named-values.json").write_text(named_values, encoding="utf-8")
    return out


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------- parse


def test_every_bicep_file_parses() -> None:
    files = bicep_checks.bicep_files(INFRA)
    assert {p.name for p in files} >= {"main.bicep", "app-service.bicep", "apim-api.bicep"}
    assert bicep_checks.check_parse(files) == []


def test_a_syntax_error_is_reported_with_file_line_and_column(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    replace_once(infra / APP_MODULE, "httpsOnly: true", "httpsOnly = true")
    problems = bicep_checks.check_parse(bicep_checks.bicep_files(infra))
    assert len(problems) == 1
    assert "app-service.bicep:" in problems[0]
    assert "not valid Bicep" in problems[0]
    with pytest.raises(InfraCheckError, match=r"app-service\.bicep:\d+:\d+: not valid Bicep"):
        bicep_checks.parse_bicep(infra / APP_MODULE)


# ---------------------------------------------------------------- AVM style


def test_parameters_and_outputs_follow_avm_conventions() -> None:
    files = bicep_checks.bicep_files(INFRA)
    assert style_checks.check_style(files, INFRA / "modules") == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "@description('Required. Name of the App Service plan.')",
            "@description('Name of the App Service plan.')",
            "parameter 'planName': expected @description('Required. ...'",
        ),
        (
            "@description('Optional. Tags of the resources.')",
            "@description('Required. Tags of the resources.')",
            "parameter 'tags' has a default but is described 'Required.'",
        ),
        (
            "output resourceId string = site.id",
            "output siteId string = site.id",
            "expected an output 'resourceId' (AVM convention), got none",
        ),
    ],
)
def test_style_drift_is_rejected(tmp_path: Path, old: str, new: str, message: str) -> None:
    infra = copy_infra(tmp_path)
    replace_once(infra / APP_MODULE, old, new)
    problems = style_checks.check_style(bicep_checks.bicep_files(infra), infra / "modules")
    assert any(message in p for p in problems), problems


# ---------------------------------------------------------------- web app security


def test_web_app_security_literals_hold() -> None:
    assert bicep_checks.check_web_app_security(INFRA / APP_MODULE) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("clientCertEnabled: true", "clientCertEnabled: false", "clientCertEnabled: expected True"),
        ("clientCertMode: 'Required'", "clientCertMode: 'Optional'", "expected 'Required'"),
        (
            "clientCertMode: 'Required'",
            "clientCertMode: 'Required'\n    clientCertExclusionPaths: '/healthz'",
            "clientCertExclusionPaths: expected none",
        ),
        ("httpsOnly: true", "httpsOnly: false", "httpsOnly: expected True"),
        ("minTlsVersion: '1.2'", "minTlsVersion: '1.0'", "minTlsVersion: expected '1.2'"),
        ("ftpsState: 'Disabled'", "ftpsState: 'FtpsOnly'", "ftpsState: expected 'Disabled'"),
        ("alwaysOn: true", "alwaysOn: false", "alwaysOn: expected True"),
        ("healthCheckPath: '/healthz'", "healthCheckPath: '/'", "expected '/healthz'"),
        ("remoteDebuggingEnabled: false", "remoteDebuggingEnabled: true", "remoteDebugging"),
        ("type: 'SystemAssigned'", "type: 'None'", "identity.type: expected 'SystemAssigned'"),
        (
            "var startCommand = 'gunicorn -c gunicorn.conf.py wsgi:app'",
            "var startCommand = 'gunicorn app:app'",
            "appCommandLine: expected 'gunicorn -c gunicorn.conf.py wsgi:app', "
            "got 'gunicorn app:app'",
        ),
        ("linuxFxVersion: 'PYTHON|", "linuxFxVersion: 'NODE|", "expected PYTHON|<version>"),
        ("name: 'scm'", "name: 'scm-off'", "basic publishing credentials 'scm'"),
        (
            "    allow: false\n  }\n}\n\nresource scm",
            "    allow: true\n  }\n}\n\nresource scm",
            "'ftp'",
        ),
        ("    reserved: true", "    reserved: false", "properties.reserved: expected True"),
        (
            "  'B1'\n  'B2'",
            "  'F1'\n  'B1'\n  'B2'",
            "expected Basic or higher (client certificates), got 'F1'",
        ),
    ],
)
def test_weakened_web_app_is_rejected(tmp_path: Path, old: str, new: str, message: str) -> None:
    infra = copy_infra(tmp_path)
    replace_once(infra / APP_MODULE, old, new)
    problems = bicep_checks.check_web_app_security(infra / APP_MODULE)
    assert any(message in p for p in problems), problems


# ---------------------------------------------------------------- load paths


def test_load_paths_exist_after_rendering(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    write_rendered(tmp_path)
    assert bicep_checks.check_load_paths(bicep_checks.bicep_files(infra)) == []


def test_load_paths_before_rendering_are_missing(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    problems = bicep_checks.check_load_paths(bicep_checks.bicep_files(infra))
    assert len(problems) == 2
    assert all("got none (render the policies first" in p for p in problems)
    assert any("loadTextContent('../build/apim-policies/api-policy.xml')" in p for p in problems)
    assert any("loadJsonContent('../build/apim-policies/named-values.json')" in p for p in problems)


@pytest.mark.parametrize(
    ("policy", "named_values", "message"),
    [
        ("x" * (bicep_checks.MAX_TEXT_CHARS + 1), "[]", "expected at most 131072 characters"),
        ("<policies />", "[{", "expected JSON, got a parse error"),
    ],
)
def test_unusable_rendered_files_are_rejected(
    tmp_path: Path, policy: str, named_values: str, message: str
) -> None:
    infra = copy_infra(tmp_path)
    write_rendered(tmp_path, policy, named_values)
    problems = bicep_checks.check_load_paths(bicep_checks.bicep_files(infra))
    assert any(message in p for p in problems), problems


def test_a_wrong_load_path_is_rejected_even_when_rendered(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    write_rendered(tmp_path)
    replace_once(
        infra / "main.bicep", "'../build/apim-policies/api-policy.xml'", "'build/api-policy.xml'"
    )
    problems = bicep_checks.check_load_paths(bicep_checks.bicep_files(infra))
    assert problems == [
        f"{infra / 'main.bicep'}: loadTextContent('build/api-policy.xml'): expected a file at "
        f"{(infra / 'build' / 'api-policy.xml').resolve()}, got none ({bicep_checks.RENDER_HINT})"
    ]


def test_policy_and_named_values_are_loaded_in_their_rendered_format() -> None:
    main = bicep_checks.parse_bicep(INFRA / "main.bicep")
    loads = dict((path, fn) for fn, path in bicep_checks._load_calls(main))
    assert loads == {
        "../build/apim-policies/api-policy.xml": "loadTextContent",
        "../build/apim-policies/named-values.json": "loadJsonContent",
    }
    api = (INFRA / "modules" / "apim-api.bicep").read_text(encoding="utf-8")
    assert "format: 'xml'" in api
    assert json.loads((INFRA / "keyvault-certificate-policy.json").read_text()) is not None
