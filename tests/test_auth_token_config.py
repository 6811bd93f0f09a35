"""[auth.entra_token]: every mistake is caught at start-up, naming the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError
from tests import tokens
from tests.conftest import build_config

GOOD = f'tenant_id = "{tokens.TENANT}"\naudience = "{tokens.AUDIENCE}"\n'


def config_text(section: str) -> str:
    head = 'environment = "production"\n[auth]\nmethods = ["entra_token"]\n'
    return f"{head}[auth.entra_token]\n{section}"


@pytest.fixture
def jwks(tmp_path: Path) -> Path:
    return tokens.write_jwks(tmp_path / "keys.json")


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ("", r"auth\.entra_token\.tenant_id: expected the tenant id"),
        ('tenant_id = "contoso"\naudience = "a"\n', r"tenant_id: expected the tenant id"),
        (
            f'tenant_id = "{tokens.TENANT.replace("-", "")}"\naudience = "a"\n',
            r"tenant_id: expected the tenant id \(a GUID\)",
        ),
        (
            'issuer = "https://login.microsoftonline.com/x/v2.0"\naudience = "a"\n',
            "or else both issuer and jwks_url",
        ),
        (f'tenant_id = "{tokens.TENANT}"\n', r"audience: expected the API's application id"),
        (GOOD + "allowed_client_ids = []\n", "allowed_client_ids: expected at least one"),
        (GOOD + 'allowed_client_ids = ["azure"]\n', r"allowed_client_ids\[0\]: expected a GUID"),
        (GOOD + 'issuer = "http://x.example/v2.0"\n', r"issuer: expected an https:// URL"),
        (GOOD + 'jwks_url = "http://x.example/keys"\n', r"jwks_url: expected an https:// URL"),
        (GOOD + 'jwks_file = "/nonexistent/keys.json"\n', r"jwks_file: cannot read"),
        (GOOD + "leeway_seconds = 3600\n", "leeway_seconds"),
        (GOOD + 'audiences = ["a"]\n', "audiences"),
    ],
)
def test_rejected(section: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        build_config(config_text(section))


def test_jwks_file_must_hold_rsa_signing_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}')
    with pytest.raises(ConfigError, match=r"jwks_file: .*expected RSA signing keys"):
        build_config(config_text(GOOD + f'jwks_file = "{path}"\n'))
    path.write_text("not json")
    with pytest.raises(ConfigError, match=r"jwks_file: .*not JSON"):
        build_config(config_text(GOOD + f'jwks_file = "{path}"\n'))


def test_file_and_url_are_exclusive(jwks: Path) -> None:
    section = GOOD + f'jwks_file = "{jwks}"\njwks_url = "https://x.example/keys"\n'
    with pytest.raises(ConfigError, match="set jwks_file or jwks_url, not both"):
        build_config(config_text(section))


def test_valid_sections(jwks: Path) -> None:
    cfg = build_config(config_text(GOOD + f'jwks_file = "{jwks}"\n')).auth.entra_token
    assert (cfg.tenant_id, cfg.audience, cfg.jwks_file) == (
        tokens.TENANT,
        tokens.AUDIENCE,
        str(jwks),
    )
    # No tenant id: an explicit issuer and key source are enough (e.g. a workforce tenant).
    section = (
        'issuer = "https://login.microsoftonline.com/t/v2.0"\naudience = "a"\n'
        'jwks_url = "https://login.microsoftonline.com/t/discovery/v2.0/keys"\n'
    )
    assert build_config(config_text(section)).auth.entra_token.issuer.endswith("/t/v2.0")
    # Loopback http is allowed for a local mirror or tests.
    local = GOOD + 'jwks_url = "http://127.0.0.1:8080/keys"\n'
    assert build_config(config_text(local)).auth.entra_token.jwks_url.startswith("http://127")


def test_not_validated_when_not_enabled() -> None:
    text = (
        config_text('tenant_id = "whatever"\n')
        .replace('methods = ["entra_token"]', 'methods = ["none"]')
        .replace('"production"', '"development"')
    )
    assert build_config(text).auth.entra_token.tenant_id == "whatever"
