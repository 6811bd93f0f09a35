"""The real policy render feeds the templates: load paths, named values, policy vs parameters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra import bicep_checks, bicepparam, check, policy_checks

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"

pytestmark = pytest.mark.skipif(
    not (ROOT / "app" / "apim" / "render.py").exists(),
    reason="app/apim/render.py (python -m app policies render) is not in this tree yet",
)

CONFIG = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/8"]
thumbprints = ["0123456789abcdef0123456789abcdef01234567"]
[apim]
tier = "consumption"
[apim.backend]
url = "https://contoso-entra-connector.azurewebsites.net"
{backend}
"""
CERT_BACKEND = 'auth = "certificate"\ncertificate_id = "connector-backend-client"'
BASIC_BACKEND = (
    'auth = "basic"\nusername_named_value = "backend-user"\npassword_named_value = "backend-pass"\n'
    '[apim.key_vault_secrets]\nbackend-pass = "connector-backend-pass"'
)


def render(tmp_path: Path, backend: str) -> tuple[Path, Path]:
    """Render through `python -m app policies render` next to a copy of infra/."""
    from app import cli as app_cli

    config = tmp_path / "connector.toml"
    config.write_text(CONFIG.format(backend=backend), encoding="utf-8")
    out = tmp_path / "build" / "apim-policies"
    code = app_cli.main(["policies", "render", "--config", str(config), "--out", str(out)])
    assert code == 0
    infra = tmp_path / "infra"
    shutil.copytree(INFRA, infra, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return infra, out


def test_real_render_satisfies_every_offline_check(tmp_path: Path) -> None:
    infra, out = render(tmp_path, CERT_BACKEND)
    results = check.run_checks(infra, infra / "main.bicepparam", checkov=None, rendered=out)
    assert set(results) >= {"parse", "load paths", "named values", "policy vs parameters"}
    assert {name: problems for name, problems in results.items() if problems} == {}


def test_real_render_with_basic_backend_is_rejected(tmp_path: Path) -> None:
    infra, out = render(tmp_path, BASIC_BACKEND)
    assert bicep_checks.check_load_paths(bicep_checks.bicep_files(infra)) == []
    params = bicepparam.read_bicepparam(infra / "main.bicepparam")
    named = bicepparam.check_named_values(params, out / "named-values.json")
    assert any("expected a value for named value 'backend-user'" in p for p in named), named
    policy = policy_checks.check_policy_matches(
        params, infra / "main.bicep", out / "api-policy.xml"
    )
    assert any("the web app requires a client certificate" in p for p in policy), policy
