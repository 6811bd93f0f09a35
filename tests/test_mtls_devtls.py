"""scripts/dev_tls.py: the development certificates and configuration behind `make run-tls`."""

from __future__ import annotations

import importlib.util
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from cryptography import x509

from app.certs.x509util import thumbprint_sha256
from app.config import load_config
from tests.support import ROOT


def dev_tls() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_tls", ROOT / "scripts" / "dev_tls.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["dev_tls"] = module
    spec.loader.exec_module(module)
    return module


def test_first_run_makes_a_working_pinned_setup_and_second_run_keeps_it(tmp_path: Path) -> None:
    tool, now = dev_tls(), datetime.now(UTC)
    written = tool.make(tmp_path, "ec-p256", now)
    assert sorted(Path(w).relative_to(tmp_path).as_posix() for w in written) == [
        "connector-tls.toml",
        "tls.env",
        "tls/client.key",
        "tls/client.pem",
        "tls/client.pfx",
        "tls/pfx.env",
        "tls/server.key",
        "tls/server.pem",
    ]
    env = dict(line.split("=", 1) for line in (tmp_path / "tls.env").read_text().splitlines())
    assert env["CONNECTOR_TLS_CLIENT_CERT"] == "required"
    assert env["CONNECTOR_TLS_CLIENT_CA"] == str(tmp_path / "tls" / "client.pem")
    client = x509.load_pem_x509_certificate((tmp_path / "tls" / "client.pem").read_bytes())
    config = load_config(env["CONNECTOR_CONFIG"], {})
    assert config.auth.methods == ("certificate",)
    assert config.auth.certificate.thumbprints == (thumbprint_sha256(client).lower(),)
    for private in ("tls/server.key", "tls/client.key", "tls/client.pfx", "tls/pfx.env", "tls.env"):
        assert stat.S_IMODE((tmp_path / private).stat().st_mode) == 0o600, private
    assert "CONNECTOR_PFX_PASSWORD" not in (tmp_path / "tls.env").read_text()
    assert tool.make(tmp_path, "ec-p256", now) == []


def test_expiring_certificates_are_remade(tmp_path: Path) -> None:
    tool, now = dev_tls(), datetime.now(UTC)
    tool.make(tmp_path, "ec-p256", now)
    later = now + timedelta(days=85)  # the server certificate is valid for 90 days
    assert tool.make(tmp_path, "ec-p256", later) == [
        str(tmp_path / "tls" / "server.pem"),
        str(tmp_path / "tls" / "server.key"),
    ]
