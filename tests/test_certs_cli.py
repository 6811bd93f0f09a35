"""`python -m app certs ...` end to end: argument wiring, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import app.cli
from tests.pki import client_cert, from_now, write_pem, write_pfx
from tests.support import BASIC_TOML, PASSWORD, ROOT

PFX_PASSWORD = "correct horse battery staple"


@pytest.fixture
def certs(cli, monkeypatch):
    """Run `python -m app certs ...` in-process, with the group registered if the lead has not."""
    if "app.certs.cli" not in app.cli._GROUPS:
        monkeypatch.setattr(app.cli, "_GROUPS", (*app.cli._GROUPS, "app.certs.cli"))
    monkeypatch.setenv("CONNECTOR_PFX_PASSWORD", PFX_PASSWORD)
    return lambda *argv: cli("certs", *argv)


def test_create_inspect_convert_round_trip(certs, tmp_path):
    made = certs(
        "create",
        "--subject",
        "CN=api.contoso",
        "--out",
        str(tmp_path),
        "--key",
        "ec-p256",
        "--days",
        "30",
    )
    assert made.code == 0, made.err
    assert "[auth.certificate]" in made.out
    seen = certs("inspect", str(tmp_path / "api.contoso.pfx"), "--json")
    assert seen.code == 0, seen.err
    data = json.loads(seen.out)
    assert data["pkcs12"]["verdict"] == "Entra will accept this file"
    assert data["certificates"][0]["days_left"] == 29
    again = certs("convert", str(tmp_path / "api.contoso.pfx"), str(tmp_path / "copy.pfx"))
    assert again.code == 0, again.err
    assert "Entra will accept this file" in again.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["create", "--subject", "CN=api.contoso", "--out", "{tmp}"],
            "api.contoso.pfx already exists: use --force",
        ),
        (
            ["create", "--subject", "CN=x y", "--out", "{tmp}"],
            "cannot derive a SAN DNS name from CN 'x y'",
        ),
        (["inspect", "{tmp}/nope.pfx"], "cannot read {tmp}/nope.pfx: No such file or directory"),
        (
            ["inspect", "{tmp}/aes.pfx", "--password-env", "OTHER_PW"],
            "wrong password for {tmp}/aes.pfx (or the file is not a PKCS#12 file)",
        ),
        (
            ["convert", "{tmp}/aes.pfx", "{tmp}/aes.pfx"],
            "is the input file: give another name, or --force",
        ),
        (["convert", "{tmp}/cert.pem", "{tmp}/out.pfx"], "{tmp}/cert.pem is not a PKCS#12 file"),
    ],
    ids=["exists", "cn-not-dns", "missing", "wrong-password", "same-file", "not-pfx"],
)
def test_bad_input_is_one_line_and_exit_2(certs, tmp_path, monkeypatch, argv, message):
    client = client_cert()
    write_pfx(tmp_path / "aes.pfx", client, PFX_PASSWORD.encode(), encryption="aes")
    write_pem(tmp_path / "cert.pem", client.cert)
    (tmp_path / "api.contoso.pfx").write_bytes(b"old")
    monkeypatch.setenv("OTHER_PW", "not the password")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = certs(*[a.format(tmp=tmp_path) for a in argv])
    assert result.code == 2
    assert result.err.startswith("error: ")
    assert message.format(tmp=tmp_path) in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unknown_key_type_is_an_argparse_error(certs):
    result = certs("create", "--subject", "CN=a", "--key", "dsa1024")
    assert result.code == 2
    assert "invalid choice: 'dsa1024'" in result.err


def test_check_reads_the_configuration_and_sets_the_exit_code(certs, tmp_path, monkeypatch):
    soon = write_pem(tmp_path / "soon.pem", client_cert(not_after=from_now(10)).cert)
    toml = tmp_path / "connector.toml"
    toml.write_text(
        BASIC_TOML + f'\n[auth.certificate]\npin_files = ["{soon}"]\nexpiry_warning_days = 30\n'
    )
    monkeypatch.setenv("TEST_BASIC_PASSWORD", PASSWORD)
    monkeypatch.delenv("CONNECTOR_TLS_CERT", raising=False)
    monkeypatch.delenv("CONNECTOR_TLS_CLIENT_CA", raising=False)
    result = certs("check", "--config", str(toml), "--json")
    assert result.code == 1, result.err
    assert json.loads(result.out)["items"][0]["status"] == "expiring"
    assert certs("check", "--config", str(toml), "--warn-days", "5").code == 0
    monkeypatch.setenv("CONNECTOR_TLS_CERT", str(tmp_path / "missing.pem"))
    result = certs("check", "--config", str(toml))
    assert result.code == 2
    assert "UNREADABLE    CONNECTOR_TLS_CERT" in result.out
    monkeypatch.setenv("CONNECTOR_CONFIG", str(toml))
    assert certs("check", "--warn-days", "5").code == 2  # path from CONNECTOR_CONFIG


def test_check_rejects_a_negative_window(certs):
    result = certs("check", "--warn-days", "-1")
    assert result.code == 2
    assert "expected 0 or more days, got -1" in result.err


def test_python_dash_m_app_runs_the_group(tmp_path):
    """The real entry point, as the docs show it (skipped until the group is registered)."""
    if "app.certs.cli" not in app.cli._GROUPS:
        pytest.skip("certs group not registered in app/cli.py yet")
    env = {**os.environ, "CONNECTOR_PFX_PASSWORD": PFX_PASSWORD}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "certs",
            "create",
            "--subject",
            "CN=api.contoso",
            "--out",
            str(tmp_path),
            "--key",
            "ec-p256",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "api.contoso.pfx").stat().st_mode & 0o777 == 0o600
