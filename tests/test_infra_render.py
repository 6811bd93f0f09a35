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
{entra_token}
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


ENTRA_TOKEN = """[auth.entra_token]
tenant_id = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
audience = "11112222-bbbb-3333-cccc-4444dddd5555"
"""


def render(tmp_path: Path, backend: str, entra_token: str = "") -> tuple[Path, Path]:
    """Render through `python -m app policies render` next to a copy of infra/."""
    from app import cli as app_cli

    config = tmp_path / "connector.toml"
    text = CONFIG.format(backend=backend, entra_token=entra_token)
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "build" / "apim-policies"
    code = app_cli.main(["policies", "render", "--config", str(config), "--out", str(out)])
    assert code == 0
    infra = tmp_path / "infra"
    shutil.copytree(INFRA, infra, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return infra, out


@pytest.mark.parametrize("entra_token", ["", ENTRA_TOKEN], ids=["refused", "validate-jwt"])
def test_real_render_satisfies_every_offline_check(tmp_path: Path, entra_token: str) -> None:
    infra, out = render(tmp_path, CERT_BACKEND, entra_token)
    results = check.run_checks(infra, infra / "main.bicepparam", checkov=None, rendered=out)
    assert set(results) >= {
        "parse",
        "load paths",
        "named values",
        "policy vs parameters",
        "policy vs operations",
    }
    assert {name: problems for name, problems in results.items() if problems} == {}
    assert ("<validate-jwt " in (out / "api-policy.xml").read_text()) == bool(entra_token)


def test_extension_operations_renamed_in_the_template_are_caught(tmp_path: Path) -> None:
    infra, out = render(tmp_path, CERT_BACKEND, ENTRA_TOKEN)
    main = infra / "main.bicep"
    text = main.read_text(encoding="utf-8")
    old = "    name: 'attribute-collection-start'\n"
    assert text.count(old) == 1
    main.write_text(text.replace(old, "    name: 'collection-start'\n"), encoding="utf-8")
    problems = policy_checks.check_policy_operations(main, out / "api-policy.xml")
    assert len(problems) == 2, problems
    assert (
        "selects operation 'attribute-collection-start', but main.bicep apiOperations has none"
        in problems[0]
    )
    assert "apiOperations 'collection-start' (/api/authentication-extension/" in problems[1]


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
