"""`python -m app policies render [--out DIR]` through the real dispatcher."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app import cli as app_cli
from app.apim.render import DEFAULT_OUT

TOML = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/8"]
thumbprints = ["{pin}"]
"""
APIM = """
[apim]
tier = "{tier}"
[apim.backend]
url = "https://connector.azurewebsites.net"
auth = "basic"
username_named_value = "connector-backend-username"
password_named_value = "connector-backend-password"
[apim.rate_limit]
enabled = {rate_limit}
"""


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = tuple(dict.fromkeys((*app_cli._GROUPS, "app.apim.cli")))
    monkeypatch.setattr(app_cli, "_GROUPS", groups)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = app_cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "connector.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_render_writes_the_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(
        tmp_path, TOML.format(pin="AB" * 20) + APIM.format(tier="standard", rate_limit="true")
    )
    out = tmp_path / "bundle"
    code, stdout, err = run(capsys, "policies", "render", "--config", config, "--out", str(out))
    assert (code, err) == (0, "")
    assert stdout.split() == [
        str(out / n) for n in ("api-policy.xml", "named-values.json", "README.txt")
    ]
    names = [e["name"] for e in json.loads((out / "named-values.json").read_text())]
    assert names == ["connector-backend-username", "connector-backend-password"]


def test_render_reads_the_configuration_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CONNECTOR_CONFIG",
        write(
            tmp_path, TOML.format(pin="ab" * 20) + APIM.format(tier="premium", rate_limit="false")
        ),
    )
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "policies", "render")
    assert code == 0
    assert (tmp_path / DEFAULT_OUT / "api-policy.xml").is_file()
    assert Path("build/apim-policies") == DEFAULT_OUT


@pytest.mark.parametrize(
    ("apim", "message"),
    [
        ("", r"\[apim\]: missing"),
        (
            APIM.format(tier="consumption", rate_limit="true"),
            r"apim\.rate_limit\.enabled: tier 'consumption' has no rate-limit-by-key",
        ),
        (APIM.format(tier="gold", rate_limit="false"), r"apim\.tier: expected one of"),
    ],
)
def test_bad_configuration_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], apim: str, message: str
) -> None:
    config = write(tmp_path, TOML.format(pin="ab" * 20) + apim)
    out = tmp_path / "bundle"
    code, stdout, err = run(capsys, "policies", "render", "--config", config, "--out", str(out))
    assert code == 2 and stdout == ""
    assert err.startswith(f"error: {config}: ") and err.count("\n") == 1
    assert re.search(message, err)
    assert not out.exists()


# --- [auth.entra_token]: the extension operations ------------------------------------------

TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
TOKEN_TOML = """
environment = "production"
[auth]
methods = {methods}
[auth.certificate]
sources = ["forwarded"]
trusted_proxies = ["10.0.0.0/8"]
thumbprints = ["{pin}"]
[auth.entra_token]
{token}
[apim]
tier = "standard"
[apim.backend]
url = "https://connector.azurewebsites.net"
auth = "certificate"
certificate_id = "connector-backend-client"
"""


def test_render_guards_the_extension_operations_with_the_apps_token_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = f'tenant_id = "{TENANT}"\naudience = "api://connector"'
    config = write(
        tmp_path,
        TOKEN_TOML.format(methods='["certificate"]', pin="ab" * 20, token=token),
    )
    out = tmp_path / "bundle"
    code, _, err = run(capsys, "policies", "render", "--config", config, "--out", str(out))
    assert (code, err) == (0, "")
    policy = (out / "api-policy.xml").read_text(encoding="utf-8")
    assert "<audience>api://connector</audience>" in policy
    assert f"<issuer>https://{TENANT}.ciamlogin.com/{TENANT}/v2.0</issuer>" in policy
    assert json.loads((out / "named-values.json").read_text()) == []  # nothing secret in it


@pytest.mark.parametrize(
    ("methods", "token", "message"),
    [
        # the loader: entra_token among the app's methods needs its audience
        (
            '["certificate", "entra_token"]',
            f'tenant_id = "{TENANT}"',
            r"auth\.entra_token\.audience: expected the API's application id or URI "
            r"\(the token's aud\)$",
        ),
        # the renderer: the gateway needs it too, whatever the app's methods
        (
            '["certificate"]',
            f'tenant_id = "{TENANT}"',
            r"auth\.entra_token\.audience: expected the API's application id or URI .*gateway",
        ),
        (
            '["certificate"]',
            'audience = "api://connector"',
            r"auth\.entra_token\.tenant_id: expected the tenant id \(a GUID\) or an issuer",
        ),
    ],
)
def test_incomplete_entra_token_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], methods: str, token: str, message: str
) -> None:
    config = write(tmp_path, TOKEN_TOML.format(methods=methods, pin="ab" * 20, token=token))
    out = tmp_path / "bundle"
    code, stdout, err = run(capsys, "policies", "render", "--config", config, "--out", str(out))
    assert code == 2 and stdout == ""
    assert err.startswith(f"error: {config}: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not out.exists()
