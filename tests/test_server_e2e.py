"""The real gunicorn with gunicorn.conf.py, called over HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import BASIC_TOML, PASSWORD, ROOT, basic, free_port, gunicorn, gunicorn_bin, post

pytestmark = pytest.mark.e2e

CONFIG = (
    BASIC_TOML
    + """
[rules.email_domains]
deny = ["mailinator.com"]
[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{5}$"
"""
)
URL = "/api/connector/post-attribute-collection"


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    with gunicorn(CONFIG, workers=2) as s:
        yield s


def test_continue_block_and_validation(server) -> None:  # type: ignore[no-untyped-def]
    ok = post(server.url + URL, {"email": "ada@contoso.com", "postalCode": "12345"}, basic())
    assert ok[0] == 200 and json.loads(ok[2]) == {"version": "1.0.0", "action": "Continue"}
    assert ok[1]["Content-Type"] == "application/json"
    blocked = post(server.url + URL, {"email": "a@mailinator.com", "postalCode": "1"}, basic())
    assert blocked[0] == 200 and json.loads(blocked[2])["action"] == "ShowBlockPage"
    invalid = post(server.url + URL, {"email": "ada@contoso.com", "postalCode": "1"}, basic())
    assert invalid[0] == 400 and json.loads(invalid[2])["action"] == "ValidationError"


def test_unauthenticated_and_malformed(server) -> None:  # type: ignore[no-untyped-def]
    status, headers, body = post(server.url + URL, {"email": "a@contoso.com"})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    assert json.loads(body)["status"] == 401
    status, _, body = post(server.url + URL, b"{not json", basic())
    assert status == 200 and json.loads(body)["action"] == "ShowBlockPage"
    status, _, body = post(server.url + URL, b"x" * 200_000, basic())
    assert status == 413 and json.loads(body)["action"] == "ShowBlockPage"


def test_health_and_openapi(server) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    with urllib.request.urlopen(server.url + "/healthz") as r:
        assert json.loads(r.read()) == {"status": "ok"}
    with urllib.request.urlopen(server.url + "/openapi.json") as r:
        doc = json.loads(r.read())
    assert doc["openapi"] == "3.1.0" and URL in doc["paths"]


def test_logs_are_json_and_hold_no_secret(server) -> None:  # type: ignore[no-untyped-def]
    post(server.url + URL, {"email": "grace.hopper@contoso.com", "postalCode": "12345"}, basic())
    post(server.url + URL + "?code=secret-key-in-query", {}, basic(password="wrong-secret"))
    text = server.wait_for_log('"event":"access"')
    server.wait_for_log("g***@contoso.com")
    assert PASSWORD not in text and "wrong-secret" not in text
    assert "grace.hopper" not in text and "secret-key-in-query" not in text
    decisions = [json.loads(line) for line in text.splitlines() if '"event":"decision"' in line]
    assert (
        decisions
        and {"correlation_id", "step", "action", "rule", "auth_method", "latency_ms"}
        <= decisions[-1].keys()
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[auth]\nmethods = ['none']\n", "auth.methods"),
        (BASIC_TOML.replace("TEST_BASIC_PASSWORD", "MISSING_VAR"), "MISSING_VAR is unset"),
        ("[auth\n", "invalid TOML"),
    ],
)
def test_broken_configuration_stops_gunicorn(tmp_path: Path, config: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config)
    env = {
        "PATH": os.environ["PATH"],
        "CONNECTOR_CONFIG": str(cfg),
        "TEST_BASIC_PASSWORD": PASSWORD,
    }
    proc = subprocess.run(
        [
            gunicorn_bin(),
            "-c",
            "gunicorn.conf.py",
            "wsgi:app",
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert message in proc.stderr and str(cfg) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wsgi_module_is_the_factory() -> None:
    source = (ROOT / "wsgi.py").read_text()
    assert "app = create_app()" in source
