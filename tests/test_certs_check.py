"""`certs check`: days left on configured certificate files, with cron-friendly exit codes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.certs.check import check_certificates
from app.config.model import CertificateAuthConfig, Config
from tests.pki import client_cert, from_now, root_ca, server_cert, write_pem


@pytest.fixture(scope="module")
def pem(tmp_path_factory):
    directory = tmp_path_factory.mktemp("check")

    def make(name: str, *, days: float, start: float = -1, count: int = 1) -> str:
        certs = [
            client_cert(f"CN={name}{i}", not_before=from_now(start), not_after=from_now(days)).cert
            for i in range(count)
        ]
        return str(write_pem(directory / f"{name}.pem", *certs))

    return make


def with_files(config: Config, *, pins=(), ca_bundle="", warn=30, thumbprints=()) -> Config:
    cert = CertificateAuthConfig(
        pin_files=tuple(pins),
        ca_bundle=ca_bundle,
        expiry_warning_days=warn,
        thumbprints=tuple(thumbprints),
    )
    return replace(config, auth=replace(config.auth, certificate=cert))


def check(config: Config, environ=None, warn_days=None):
    return check_certificates(config, environ or {}, warn_days, datetime.now(UTC))


def test_all_fine_exits_0(config, pem):
    report = check(with_files(config, pins=[pem("fine", days=100)]))
    assert [(i.source, i.status, i.days_left) for i in report.items] == [
        ("auth.certificate.pin_files[0]", "ok", 99)
    ]
    assert report.exit_code == 0


@pytest.mark.parametrize(
    ("days", "start", "status", "code"),
    [
        (100, -1, "ok", 0),
        (31, -1, "ok", 0),
        (29.5, -1, "expiring", 1),
        (0.5, -1, "expiring", 1),
        (-0.5, -10, "expired", 2),
        (100, 1, "not yet valid", 1),
    ],
)
def test_window_decides_the_status(config, pem, days, start, status, code):
    path = pem(f"w{days}_{start}".replace(".", "_").replace("-", "m"), days=days, start=start)
    report = check(with_files(config, pins=[path], warn=30))
    assert [i.status for i in report.items] == [status]
    assert report.exit_code == code


def test_warn_days_overrides_the_configured_window(config, pem):
    cfg = with_files(config, pins=[pem("twenty", days=20)], warn=30)
    assert check(cfg).exit_code == 1
    assert check(cfg, warn_days=10).exit_code == 0
    assert check(cfg, warn_days=10).warn_days == 10
    assert check(cfg).warn_days == 30


def test_every_certificate_of_a_bundle_and_the_tls_files_are_checked(config, pem, tmp_path):
    ca = root_ca()
    server = server_cert(ca, not_after=from_now(5))
    env = {
        "CONNECTOR_TLS_CERT": str(write_pem(tmp_path / "server.pem", server.cert, ca.cert)),
        "CONNECTOR_TLS_CLIENT_CA": "",  # set but empty: not named
    }
    cfg = with_files(config, ca_bundle=pem("bundle", days=200, count=3))
    report = check(cfg, env)
    assert [(i.source, i.subject, i.status) for i in report.items] == [
        ("auth.certificate.ca_bundle", "CN=bundle0", "ok"),
        ("auth.certificate.ca_bundle", "CN=bundle1", "ok"),
        ("auth.certificate.ca_bundle", "CN=bundle2", "ok"),
        ("CONNECTOR_TLS_CERT", "CN=localhost", "expiring"),
        ("CONNECTOR_TLS_CERT", "CN=Test Root CA", "ok"),
    ]
    assert report.exit_code == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "cannot read .*: No such file or directory"),
        (b"not a certificate", "is not a certificate: expected PEM"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "damaged or truncated"),
    ],
    ids=["missing", "garbage", "damaged"],
)
def test_unreadable_file_exits_2_and_says_why(config, pem, tmp_path, content, why):
    bad = tmp_path / "bad.pem"
    if content is not None:
        bad.write_bytes(content)
    env = {"CONNECTOR_TLS_CLIENT_CA": str(bad)}
    report = check(with_files(config, pins=[pem("ok", days=100)]), env)
    assert [i.status for i in report.items] == ["ok", "unreadable"]
    assert report.items[1].source == "CONNECTOR_TLS_CLIENT_CA"
    assert re.search(why, report.items[1].detail)
    assert report.exit_code == 2
    assert f"UNREADABLE    CONNECTOR_TLS_CLIENT_CA: {bad}: " in "\n".join(report.lines())


def test_expired_beats_expiring(config, pem):
    cfg = with_files(config, pins=[pem("soon", days=3), pem("gone", days=-2, start=-40)])
    report = check(cfg)
    assert [i.status for i in report.items] == ["expiring", "expired"]
    assert report.exit_code == 2
    text = "\n".join(report.lines())
    assert "EXPIRED       auth.certificate.pin_files[1]" in text
    assert "(expired 2 day(s) ago)" in text
    assert text.endswith("result: failing (exit 2)")


def test_notes_for_hash_only_pins_and_nothing_configured(config):
    report = check(with_files(config, thumbprints=["ab" * 20]))
    assert report.items == () and report.exit_code == 0
    assert report.notes == (
        "1 pinned thumbprint(s) in auth.certificate.thumbprints name no file: check their "
        "expiry where the certificates live",
        "the configuration names no certificate file",
    )


def test_json_output(config, pem):
    report = check(with_files(config, pins=[pem("j", days=10)]))
    data = json.loads(json.dumps(report.as_json()))
    assert data["exit_code"] == 1 and data["warn_days"] == 30
    (item,) = data["items"]
    assert item["status"] == "expiring" and item["days_left"] == 9
    assert item["subject"] == "CN=j0" and len(item["sha256"]) == 64
    assert datetime.fromisoformat(item["not_after"]) > datetime.now(UTC)
    assert Path(item["path"]).name == "j.pem"
