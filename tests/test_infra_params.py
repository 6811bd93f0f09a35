"""main.bicepparam against main.bicep, and the rendered policy bundle against both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra import bicepparam, policy_checks
from infra.bicep_checks import InfraCheckError

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
PARAMS = INFRA / "main.bicepparam"
CERT_PIN = "0123456789abcdef0123456789abcdef01234567"
APP_URL = "https://contoso-entra-connector.azurewebsites.net"


def copy_params(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """main.bicep and a (possibly broken) main.bicepparam side by side in tmp_path."""
    shutil.copy(MAIN, tmp_path / "main.bicep")
    text = PARAMS.read_text(encoding="utf-8")
    if old:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    target = tmp_path / "main.bicepparam"
    target.write_text(text, encoding="utf-8")
    return target


def problems_for(tmp_path: Path, old: str, new: str) -> list[str]:
    params = bicepparam.read_bicepparam(copy_params(tmp_path, old, new))
    return bicepparam.check_params(tmp_path / "main.bicep", params)


# ---------------------------------------------------------------- reader


def test_reader_reads_every_parameter_with_its_value() -> None:
    params = bicepparam.read_bicepparam(PARAMS)
    assert params.using == MAIN.resolve()
    assert params.values["appServicePlanSku"] == "B1"
    assert params.values["deployApiManagement"] is True
    assert params.values["gunicornWorkers"] == 2
    assert params.values["alertEmails"] == ["identity-team@contoso.com"]
    assert params.values["tags"]["workload"] == "entra-api-connector"
    secret = params.values["postgresAdministratorPassword"]
    assert secret["function"]["type"] == "readEnvironmentVariable"
    assert params.lines["namePrefix"] > 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("param a = 'x'\n", "expected a using '<template>.bicep' statement, got none"),
        ("using './a.bicep'\nusing './b.bicep'\n", "expected one using statement, got a second"),
        ("using './main.bicep'\nparam a = [\n", "not valid Bicep"),
    ],
)
def test_reader_rejects_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.bicepparam"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InfraCheckError, match=message):
        bicepparam.read_bicepparam(path)


# ---------------------------------------------------------------- parameters


def test_example_parameters_match_the_template() -> None:
    assert bicepparam.check_params(MAIN, bicepparam.read_bicepparam(PARAMS)) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "param pythonVersion = '3.12'",
            "param pythonVersoin = '3.12'",
            "parameter 'pythonVersoin' is not declared in main.bicep",
        ),
        (
            "param gunicornWorkers = 2",
            "param gunicornWorkers = '2'",
            "parameter 'gunicornWorkers': expected type int, got string",
        ),
        (
            "param deployApiManagement = true",
            "param deployApiManagement = 'yes'",
            "parameter 'deployApiManagement': expected type bool, got string",
        ),
        (
            "param alertEmails = [\n  'identity-team@contoso.com'\n]",
            "param alertEmails = {\n  a: 1\n}",
            "parameter 'alertEmails': expected type array, got object",
        ),
        (
            "param appServicePlanSku = 'B1'",
            "param appServicePlanSku = 'F1'",
            "parameter 'appServicePlanSku': expected one of ['B1'",
        ),
        (
            "param gunicornWorkers = 2",
            "param gunicornWorkers = 64",
            "parameter 'gunicornWorkers': expected 1..16, got 64",
        ),
        (
            "param namePrefix = 'contoso-conn'",
            "param namePrefix = 'x'",
            "parameter 'namePrefix': expected length 3..20, got 1",
        ),
        (
            "param namePrefix = 'contoso-conn'\n",
            "",
            "required parameter 'namePrefix' of main.bicep is not set",
        ),
        (
            "param logRetentionInDays = 30\n",
            "",
            "parameter 'logRetentionInDays' of main.bicep has no example value",
        ),
        (
            "readEnvironmentVariable('CONNECTOR_PG_ADMIN_PASSWORD', '')",
            "'hunter2-hunter2'",
            "secure parameter 'postgresAdministratorPassword' has a literal value",
        ),
        ("using './main.bicep'", "using './other.bicep'", "using: expected"),
    ],
)
def test_broken_parameters_are_rejected(tmp_path: Path, old: str, new: str, message: str) -> None:
    problems = problems_for(tmp_path, old, new)
    assert any(message in p for p in problems), problems


# ---------------------------------------------------------------- named values


def rendered_named_values(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    path = tmp_path / "named-values.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


SECRET = {"name": "gw-basic", "secret": True, "description": "d", "keyVaultSecretName": "gw-basic"}
PLAIN = {"name": "backend-user", "secret": False, "description": "d", "keyVaultSecretName": None}


def test_named_values_supplied_for_every_plain_one(tmp_path: Path) -> None:
    params = bicepparam.read_bicepparam(
        copy_params(
            tmp_path,
            "param apimNamedValues = {}",
            "param apimNamedValues = {\n  'backend-user': 'entra'\n}",
        )
    )
    assert (
        bicepparam.check_named_values(params, rendered_named_values(tmp_path, [SECRET, PLAIN]))
        == []
    )


@pytest.mark.parametrize(
    ("entries", "values", "message"),
    [
        (
            [PLAIN],
            "{}",
            "expected a value for named value 'backend-user' (the rendered policy uses it)",
        ),
        (
            [SECRET],
            "{\n  'gw-basic': 'x'\n}",
            "'gw-basic' is not a non-secret named value of the rendered policy",
        ),
        (
            [{**SECRET, "keyVaultSecretName": None}],
            "{}",
            "secret named value 'gw-basic' has no keyVaultSecretName",
        ),
    ],
)
def test_named_value_gaps_are_rejected(
    tmp_path: Path, entries: list[dict[str, object]], values: str, message: str
) -> None:
    params = bicepparam.read_bicepparam(
        copy_params(tmp_path, "param apimNamedValues = {}", f"param apimNamedValues = {values}")
    )
    problems = bicepparam.check_named_values(params, rendered_named_values(tmp_path, entries))
    assert any(message in p for p in problems), problems


# ---------------------------------------------------------------- rendered policy vs parameters

POLICY = """<!--
    Tier: {tier}.
-->
<policies><inbound><base />
<set-backend-service base-url="{url}" />
{credential}
</inbound><backend><base /></backend><outbound><base /></outbound>
<on-error><base /></on-error></policies>
"""
CERT = '<authentication-certificate certificate-id="connector-backend-client" />'


def policy_file(
    tmp_path: Path, tier: str = "consumption", url: str = APP_URL, credential: str = CERT
) -> Path:
    path = tmp_path / "api-policy.xml"
    path.write_text(POLICY.format(tier=tier, url=url, credential=credential), encoding="utf-8")
    return path


def test_rendered_policy_matches_the_parameters(tmp_path: Path) -> None:
    params = bicepparam.read_bicepparam(PARAMS)
    assert policy_checks.check_policy_matches(params, MAIN, policy_file(tmp_path)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"credential": '<authentication-basic username="{{u}}" password="{{p}}" />'},
            "the web app requires a client certificate",
        ),
        (
            {"credential": '<authentication-certificate certificate-id="other" />'},
            "certificate-id: expected 'connector-backend-client' (apimBackendCertificateId), "
            "got 'other'",
        ),
        (
            {"url": "https://elsewhere.azurewebsites.net"},
            "base-url host: expected 'contoso-entra-connector.azurewebsites.net' (webAppName)",
        ),
        ({"tier": "developer"}, "rendered for tier 'developer', but apimSkuName is 'Consumption'"),
    ],
)
def test_policy_drift_from_parameters_is_rejected(
    tmp_path: Path, kwargs: dict[str, str], message: str
) -> None:
    params = bicepparam.read_bicepparam(PARAMS)
    problems = policy_checks.check_policy_matches(params, MAIN, policy_file(tmp_path, **kwargs))
    assert any(message in p for p in problems), problems
