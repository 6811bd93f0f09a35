"""Configuration: validated completely at start-up; errors name file, key and problem."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.config import load_config, parse_config
from app.errors import ConfigError
from tests.support import BASIC_TOML, PASSWORD, ROOT

ENV = {"TEST_BASIC_PASSWORD": PASSWORD}
DEV = "environment = 'development'\n"


def parse(text: str, env: dict[str, str] | None = None) -> Any:
    return parse_config(tomllib.loads(text), "conf.toml", {**ENV, **(env or {})})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "environment = 'prod'\n" + BASIC_TOML.replace('environment = "production"', ""),
            r"conf.toml: environment: expected one of 'production', 'development', got 'prod'",
        ),
        ("[auth]\nmethods = []\n", r"auth.methods: no authentication method"),
        ("[auth]\n", r"auth.methods: no authentication method"),
        ("[auth]\nmethods = ['none']\n", r"auth.methods: \"none\" .* refused in production"),
        ("[auth]\nmethods = ['api_key']\n", r"auth.methods: api_key alone is for development"),
        ("[auth]\nmethods = ['magic']\n", r"auth.methods\[0\]: expected one of"),
        ("[auth]\nmethods = 'basic'\n", r"auth.methods: expected an array, got string"),
        ("[auth]\nmethods = ['basic', 'basic']\n", r"auth.methods: lists a method twice"),
        ("[auth]\nmethods = ['basic']\n", r"auth.basic.credentials: basic is enabled"),
        (
            BASIC_TOML.replace("TEST_BASIC_PASSWORD", "UNSET_VAR"),
            r"auth.basic.credentials\[0\].password_env: environment variable UNSET_VAR is unset",
        ),
        (
            BASIC_TOML + "\n[rules.email_domains]\ndenny = []\n",
            r"rules.email_domains.denny: unknown key",
        ),
        ("typo = 1\n" + BASIC_TOML, r"conf.toml: typo: unknown key"),
        (
            BASIC_TOML.replace('username = "entra"', 'username = "a:b"'),
            r"username: expected a non-empty user name without ':'",
        ),
        (
            BASIC_TOML.replace('password_env = "TEST_BASIC_PASSWORD"', 'password_hash = "md5$x"'),
            r"password_hash: expected scrypt\$... or pbkdf2_sha256",
        ),
        (
            BASIC_TOML.replace(
                'password_env = "TEST_BASIC_PASSWORD"', 'password_env = "X"\npassword_hash = "y"'
            ),
            r"set exactly one of password_env and password_hash",
        ),
        (
            "[auth]\nmethods = ['certificate']\n",
            r"auth.certificate.thumbprints: .* an empty pin list would accept any certificate",
        ),
        (
            "[auth]\nmethods = ['certificate']\n[auth.certificate]\nthumbprints = ['abc']\n",
            r"thumbprints\[0\]: expected a SHA-1 \(40 hex digits\) or SHA-256 \(64 hex digits\)",
        ),
        (
            "[auth]\nmethods = ['certificate']\n[auth.certificate]\nthumbprints = ['"
            + "a" * 40
            + "']\nsources = ['forwarded']\n",
            r"trusted_proxies: sources includes \"forwarded\"",
        ),
        (
            "[auth]\nmethods = ['certificate']\n[auth.certificate]\nthumbprints = ['"
            + "a" * 40
            + "']\ntrusted_proxies = ['10.0.0.300']\n",
            r"trusted_proxies\[0\]: expected an IP",
        ),
        (
            "[auth]\nmethods = ['certificate']\n"
            "[auth.certificate]\nca_bundle = '/nonexistent.pem'\n",
            r"auth.certificate.ca_bundle: file not found: /nonexistent.pem",
        ),
        (
            "[auth]\nmethods = ['certificate']\n[auth.certificate]\nthumbprints = ['"
            + "a" * 40
            + "']\nforwarded_header = 'X_Cert'\n",
            r"forwarded_header: expected an HTTP header name",
        ),
        (
            BASIC_TOML + "\n[[rules.attributes]]\nname = 'x'\npattern = '('\n",
            r"rules.attributes\[0\].pattern: invalid regular expression",
        ),
        (
            BASIC_TOML + "\n[[rules.attributes]]\nname = 'x'\nmin_length = 5\nmax_length = 2\n",
            r"rules.attributes\[0\].min_length: expected at most max_length \(2\), got 5",
        ),
        (
            BASIC_TOML + "\n[[rules.attributes]]\nname = 'x'\nsteps = ['before-create']\n",
            r"rules.attributes\[0\].steps\[0\]: expected one of",
        ),
        (
            BASIC_TOML + "\n[[rules.attributes]]\nname = 'x'\nmessage = 5\n",
            r"rules.attributes\[0\].message: expected a string or a table",
        ),
        (
            BASIC_TOML + "\n[rules.email_domains]\ndeny = ['bad domain']\n",
            r"rules.email_domains.deny\[0\]: invalid domain",
        ),
        (
            BASIC_TOML + "\n[rules.email_domains]\ndeny_files = ['/nonexistent.txt']\n",
            r"rules.email_domains.deny_files\[0\]: file not found",
        ),
        (
            BASIC_TOML + "\n[[rules.claims]]\nname = 'email'\nvalue = 'x'\n",
            r"rules.claims\[0\].name: email cannot be overwritten",
        ),
        (
            BASIC_TOML + "\n[[rules.claims]]\nname = 'x'\nvalue = 1.5\n",
            r"rules.claims\[0\].value: expected a string, boolean or integer",
        ),
        (
            BASIC_TOML + "\n[rules.invitations]\n",
            r"rules.invitations.hash_key_env: environment variable CONNECTOR_INVITE_KEY must hold",
        ),
        (BASIC_TOML + "\n[messages]\ngoodbye = 'x'\n", r"messages.goodbye: unknown message key"),
        (BASIC_TOML + "\n[store]\nurl = 'mysql://x'\n", r"store.url: expected sqlite"),
        (
            BASIC_TOML + "\n[limits]\nmax_body_bytes = 10\n",
            r"limits.max_body_bytes: expected at least 1024, got 10",
        ),
        ("extensions_app_id = 'nope'\n" + BASIC_TOML, r"extensions_app_id: expected the b2c"),
        ("[auth]\nmethods = ['entra_token']\n", r"auth.entra_token.tenant_id: expected the tenant"),
    ],
)
def test_bad_configuration_names_key_and_problem(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse(text)


def test_api_key_alone_allowed_in_development_with_warning() -> None:
    cfg = parse(
        DEV + "[auth]\nmethods = ['api_key', 'none']\n", env={"CONNECTOR_API_KEYS": "x" * 16}
    )
    assert any("ANY caller is accepted" in w for w in cfg.warnings)


@pytest.mark.parametrize(("value", "match"), [("", "unset or empty"), ("short", "at least 16")])
def test_api_key_env_checked(value: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse(DEV + "[auth]\nmethods = ['api_key']\n", env={"CONNECTOR_API_KEYS": value})


def test_empty_password_variable_is_unset() -> None:
    with pytest.raises(ConfigError, match="TEST_BASIC_PASSWORD is unset or empty"):
        parse(BASIC_TOML, env={"TEST_BASIC_PASSWORD": ""})


def test_thumbprints_normalised() -> None:
    sha1 = "AB:CD " + "ef" * 18
    cfg = parse(
        "[auth]\nmethods = ['certificate']\n[auth.certificate]\n"
        f"thumbprints = ['{sha1}', '{'A' * 64}']\n"
    )
    assert cfg.auth.certificate.thumbprints == ("abcd" + "ef" * 18, "a" * 64)


def test_example_configuration_is_valid() -> None:
    cfg = load_config(
        ROOT / "connector.example.toml", {"CONNECTOR_BASIC_PASSWORD": "example-password"}
    )
    assert cfg.environment == "production"
    assert cfg.rules.attributes[0].name == "postalCode"


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "none.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("[auth\n")
    with pytest.raises(ConfigError, match=f"{bad}: invalid TOML"):
        load_config(bad, {})


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_config_check_redacts_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(BASIC_TOML)
    r = _run(["config", "check"], {"CONNECTOR_CONFIG": str(cfg), **ENV})
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    assert '"password": "***"' in r.stdout
    assert "is valid (production)" in r.stderr


def test_config_check_on_the_example_prints_json() -> None:
    r = _run(
        ["config", "check", "--config", "connector.example.toml"],
        {"CONNECTOR_BASIC_PASSWORD": "example-password"},
    )
    assert r.returncode == 0, r.stderr
    import json

    printed = json.loads(r.stdout)
    assert printed["rules"]["attributes"][0]["pattern"] == "^[0-9]{5}$"
    assert "example-password" not in r.stdout


def test_config_check_redacts_store_password(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(BASIC_TOML)
    url = "postgresql://connector:s3cret-pg-pass@db.example:5432/connector?sslmode=require"
    r = _run(["config", "check"], {"CONNECTOR_CONFIG": str(cfg), "CONNECTOR_STORE_URL": url, **ENV})
    assert r.returncode == 0, r.stderr
    assert "s3cret-pg-pass" not in r.stdout + r.stderr
    assert "connector:***@db.example" in r.stdout


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:"])
def test_store_url_needs_a_file(url: str) -> None:
    with pytest.raises(ConfigError, match="expected a database file after sqlite:///"):
        parse(BASIC_TOML + f"\n[store]\nurl = '{url}'\n")


def test_config_check_fails_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[auth]\nmethods = ['none']\n")
    r = _run(["config", "check"], {"CONNECTOR_CONFIG": str(cfg)})
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert "auth.methods" in r.stderr and str(cfg) in r.stderr


def test_hash_password_command_roundtrip(tmp_path: Path) -> None:
    r = _run(["config", "hash-password"], {"CONNECTOR_BASIC_PASSWORD": "a-long-password-1"})
    assert r.returncode == 0, r.stderr
    encoded = r.stdout.strip()
    assert encoded.startswith("scrypt$") and "a-long-password-1" not in encoded
    from app.auth.passwords import parse_password_hash

    assert parse_password_hash(encoded).verify(b"a-long-password-1")
    assert not parse_password_hash(encoded).verify(b"a-long-password-2")
    short = _run(["config", "hash-password"], {"CONNECTOR_BASIC_PASSWORD": "short"})
    assert short.returncode == 2 and "at least 12 characters" in short.stderr


def test_init_creates_private_password_once(tmp_path: Path) -> None:
    r = _run(["config", "init", "--dir", str(tmp_path / "inst")], {})
    assert r.returncode == 0, r.stderr
    env_file = tmp_path / "inst" / "dev.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    first = env_file.read_text()
    _run(["config", "init", "--dir", str(tmp_path / "inst")], {})
    assert env_file.read_text() == first
    password = first.strip().split("=", 1)[1]
    cfg = load_config(tmp_path / "inst" / "connector.toml", {"CONNECTOR_BASIC_PASSWORD": password})
    assert cfg.environment == "development"
