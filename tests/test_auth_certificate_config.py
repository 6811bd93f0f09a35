"""[auth.certificate] at start-up and in `config check`, and the expiry view in /readyz."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.errors import ConfigError
from tests import pki
from tests.conftest import build_config

CERT_TOML = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
{body}
"""


def toml(**keys: Any) -> str:
    return CERT_TOML.format(body="\n".join(f"{k} = {json.dumps(v)}" for k, v in keys.items()))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("trust")
    soon = pki.leaf("CN=api.contoso", san=None, eku="both", not_after=pki.from_now(5))
    (d / "junk.pem").write_text("hello\n")
    (d / "cut.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return {
        "good": str(pki.write_pem(d / "ca.pem", pki.root_ca().cert)),
        "soon": str(pki.write_pem(d / "soon.pem", soon.cert)),
        "soon_sha256": soon.sha256,
        "old": str(pki.write_pem(d / "old.pem", pki.leaf(not_after=pki.ago(3)).cert)),
        "junk": str(d / "junk.pem"),
        "cut": str(d / "cut.pem"),
    }


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"ca_bundle": "junk"}, r"auth.certificate.ca_bundle: .*junk.pem holds no PEM certificate"),
        ({"ca_bundle": "cut"}, r"auth.certificate.ca_bundle: .*cut.pem holds a damaged"),
        ({"pin_files": ["good", "junk"]}, r"auth.certificate.pin_files\[1\]: .*junk.pem"),
        (
            {"ca_bundle": "good", "subjects": ["CN=ok", "not a DN"]},
            r"auth.certificate.subjects\[1\]: expected an RFC 4514 distinguished name",
        ),
        (
            {"ca_bundle": "good", "issuers": ["=x"]},
            r"auth.certificate.issuers\[0\]: expected an RFC 4514",
        ),
    ],
)
def test_bad_trust_configuration_is_refused_at_start_up(
    files: dict[str, str], keys: dict[str, Any], message: str
) -> None:
    def resolve(v: Any) -> Any:  # file nicknames to paths; anything else as it is
        return [files.get(x, x) for x in v] if isinstance(v, list) else files.get(v, v)

    resolved = {k: resolve(v) for k, v in keys.items()}
    with pytest.raises(ConfigError, match=message) as info:
        build_config(toml(**resolved))
    assert str(info.value).startswith("test.toml: ")


def test_expired_pinned_file_is_a_warning_not_an_error(files: dict[str, str]) -> None:
    config = build_config(toml(pin_files=[files["old"], files["soon"]]))
    [warning] = config.warnings
    assert warning.startswith("auth.certificate.pin_files[0]: CN=client.test in ")
    assert "expired on" in warning and "remove it once its successor is in place" in warning


def test_config_check_warns_about_trusting_any_peer(
    files: dict[str, str], tmp_path: Path, cli: Any
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        toml(sources=["forwarded"], trust_forwarded_from_any_peer=True, ca_bundle=files["good"])
    )
    result = cli("config", "check", "--config", str(path))
    assert result.code == 0
    assert "warning: auth.certificate.trust_forwarded_from_any_peer = true" in result.err
    assert "cannot be reached except through the front end" in result.err


def test_readyz_lists_the_expiring_pinned_certificate(files: dict[str, str]) -> None:
    config = build_config(toml(pin_files=[files["soon"]], expiry_warning_days=30))
    client = create_app(config, TESTING=True).test_client()
    resp = client.get("/readyz")
    check = json.loads(resp.data)["checks"]["certificates"]
    assert check["ok"] is True and check["window_days"] == 30
    assert [(e["sha256"], e["days_left"]) for e in check["expiring"]] == [(files["soon_sha256"], 4)]


def test_certs_check_reads_the_same_configuration(
    files: dict[str, str], tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml(pin_files=[files["soon"]], expiry_warning_days=30))
    monkeypatch.delenv("CONNECTOR_TLS_CERT", raising=False)
    monkeypatch.delenv("CONNECTOR_TLS_CLIENT_CA", raising=False)
    result = cli("certs", "check", "--json", "--config", str(path))
    report = json.loads(result.out)
    assert result.code == 1  # one within the window
    assert [(i["sha256"], i["status"]) for i in report["items"]] == [
        (files["soon_sha256"], "expiring")
    ]
