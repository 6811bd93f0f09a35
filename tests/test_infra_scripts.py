"""infra/deploy.sh, infra/create-certificate.sh and the Key Vault certificate policy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
SUBJECT = "CN=connector.contoso.onmicrosoft.com"


def bin_dir(tmp_path: Path, az_script: str | None) -> dict[str, str]:
    """An environment whose PATH has bash, coreutils' dirname and python3, plus a fake az."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # Real binaries, not shims (pyenv's need their own PATH entries).
    names = ("bash", "dirname", "sed", "openssl", "mktemp", "rm", "chmod", "cp")
    tools = {tool: shutil.which(tool) for tool in names}
    tools["python3"] = sys.executable
    for tool, found in tools.items():
        assert found, tool
        (bindir / tool).symlink_to(os.path.realpath(found))
    if az_script is not None:
        az = bindir / "az"
        az.write_text("#!/bin/bash\n" + az_script, encoding="utf-8")
        az.chmod(0o755)
    return {"PATH": str(bindir), "HOME": str(tmp_path)}


def run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INFRA / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


# ---------------------------------------------------------------- certificate policy


def test_certificate_policy_is_what_entra_recommends() -> None:
    policy = json.loads((INFRA / "keyvault-certificate-policy.json").read_text(encoding="utf-8"))
    assert policy["issuerParameters"]["name"] == "Self"
    assert policy["keyProperties"] == {
        "exportable": True,
        "keyType": "RSA",
        "keySize": 2048,
        "reuseKey": False,
    }
    assert policy["secretProperties"]["contentType"] == "application/x-pkcs12"
    x509 = policy["x509CertificateProperties"]
    assert x509["subject"] == "CN=<api>.<tenant>"
    assert x509["keyUsage"] == ["digitalSignature"]
    assert x509["ekus"] == ["1.3.6.1.5.5.7.3.2"]  # client authentication
    assert x509["validityInMonths"] == 12
    (action,) = policy["lifetimeActions"]
    assert action["action"]["actionType"] == "EmailContacts"
    assert 0 < action["trigger"]["daysBeforeExpiry"] < 12 * 30


def test_create_certificate_substitutes_the_subject(tmp_path: Path) -> None:
    done = run(
        "create-certificate.sh", "--subject", SUBJECT, "--print-policy", env=bin_dir(tmp_path, None)
    )
    assert done.returncode == 0, done.stderr
    policy = json.loads(done.stdout)
    assert policy["x509CertificateProperties"]["subject"] == SUBJECT
    assert policy["keyProperties"]["keySize"] == 2048


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject", "CN=<api>.<tenant>"], "--subject must look like CN=<api>.<tenant>"),
        (["--subject", "connector.contoso.com"], "--subject must look like CN=<api>.<tenant>"),
        (["--subject", SUBJECT], "--vault is required"),
        (["--bogus"], "unknown argument: --bogus"),
    ],
)
def test_create_certificate_refuses_bad_arguments(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = run("create-certificate.sh", *args, env=bin_dir(tmp_path, None))
    assert done.returncode == 2
    assert message in done.stderr


def test_create_certificate_stops_without_az(tmp_path: Path) -> None:
    done = run(
        "create-certificate.sh", "--vault", "kv", "--subject", SUBJECT, env=bin_dir(tmp_path, None)
    )
    assert done.returncode == 2
    assert "the Azure CLI 'az' is not installed" in done.stderr


def test_create_certificate_passes_the_policy_to_az(tmp_path: Path) -> None:
    log = tmp_path / "az.log"
    script = f'printf "%s\\n" "$*" >> {log}\nexit 0\n'
    done = run(
        "create-certificate.sh",
        "--vault",
        "kv",
        "--subject",
        SUBJECT,
        env=bin_dir(tmp_path, script),
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text(encoding="utf-8")
    assert (
        "keyvault certificate create --vault-name kv --name connector-client-cert --policy" in calls
    )
    assert SUBJECT in calls


# ---------------------------------------------------------------- deploy.sh


def test_deploy_stops_when_az_is_missing(tmp_path: Path) -> None:
    done = run("deploy.sh", "--resource-group", "rg", env=bin_dir(tmp_path, None))
    assert done.returncode == 2
    assert "error: the Azure CLI 'az' is not installed" in done.stderr


def test_deploy_stops_when_az_is_not_logged_in(tmp_path: Path) -> None:
    script = (
        'if [ "$1 $2" = "account show" ]; then echo "Please run az login" >&2; exit 1; fi\nexit 0\n'
    )
    done = run("deploy.sh", "--resource-group", "rg", env=bin_dir(tmp_path, script))
    assert done.returncode == 2
    assert "error: az is not logged in: run 'az login'" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--resource-group is required"),
        (
            ["-g", "rg", "--parameters", "nope.bicepparam"],
            "parameters file nope.bicepparam not found",
        ),
        (["--what"], "unknown argument: --what"),
    ],
)
def test_deploy_refuses_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    done = run("deploy.sh", *args, env=bin_dir(tmp_path, "exit 0\n"))
    assert done.returncode == 2
    assert message in done.stderr


def test_deploy_renders_then_deploys_with_the_bicepparam() -> None:
    text = (INFRA / "deploy.sh").read_text(encoding="utf-8")
    render = text.index("-m app policies render --out build/apim-policies")
    deploy = text.index('az deployment group "$action"')
    assert render < deploy
    assert '--parameters "$params"' in text[deploy:]
    assert 'params="infra/main.bicepparam"' in text
    assert os.access(INFRA / "deploy.sh", os.X_OK)


def test_deploy_runs_python_modules_that_exist() -> None:
    text = (INFRA / "deploy.sh").read_text(encoding="utf-8")
    modules = re.findall(r'"\$python" -m ([\w.]+)', text)
    assert modules == ["app", "infra.check"]
    for module in modules:
        path = INFRA.parent / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module


# ---------------------------------------------------------------- export-entra-pfx.sh


def key_vault_pfx(tmp_path: Path) -> Path:
    """A PKCS #12 without a password, the way Key Vault hands a certificate's secret out."""
    key, cert, pfx = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "kv.pfx"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=connector.contoso.onmicrosoft.com",
            "-days",
            "30",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-in",
            str(cert),
            "-inkey",
            str(key),
            "-passout",
            "pass:",
            "-out",
            str(pfx),
        ],
        check=True,
        capture_output=True,
    )
    return pfx


FAKE_AZ_DOWNLOAD = """
if [ "$1 $2" = "account show" ]; then exit 0; fi
while [ $# -gt 0 ]; do
  if [ "$1" = "--file" ]; then cp "{pfx}" "$2"; exit 0; fi
  shift
done
exit 1
"""


def test_export_writes_a_pfx_entra_accepts(tmp_path: Path) -> None:
    env = bin_dir(tmp_path, FAKE_AZ_DOWNLOAD.format(pfx=key_vault_pfx(tmp_path)))
    env["CONNECTOR_PFX_PASSWORD"] = "correct-horse-battery"
    out = tmp_path / "entra.pfx"
    done = run("export-entra-pfx.sh", "--vault", "kv", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "upload it to the API connector" in done.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    info = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-info",
            "-noout",
            "-legacy",
            "-in",
            str(out),
            "-passin",
            "env:CONNECTOR_PFX_PASSWORD",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PATH": os.environ["PATH"]},
        check=False,
    )
    assert info.returncode == 0, info.stderr
    assert "MAC: sha1" in info.stderr
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info.stderr


@pytest.mark.parametrize(
    ("password", "args", "message"),
    [
        ("short", ["--vault", "kv", "--out", "x.pfx"], "expected a password of at least 12"),
        ("correct-horse-battery", ["--out", "x.pfx"], "--vault is required"),
        ("correct-horse-battery", ["--vault", "kv"], "--out is required"),
    ],
)
def test_export_refuses_weak_or_missing_input(
    tmp_path: Path, password: str, args: list[str], message: str
) -> None:
    env = bin_dir(tmp_path, "exit 0\n")
    env["CONNECTOR_PFX_PASSWORD"] = password
    done = run("export-entra-pfx.sh", *args, env=env)
    assert done.returncode == 2
    assert message in done.stderr
