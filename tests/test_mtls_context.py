"""gunicorn's TLS settings and the SSL context prepared in the master (app/gunicorn_tls.py)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config as GunicornConfig

from app import gunicorn_tls
from app.errors import ConfigError
from tests import pki


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    saved = gunicorn_tls._state.prepared
    gunicorn_tls._state.prepared = None
    yield
    gunicorn_tls._state.prepared = saved


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls")
    server = pki.write_files(d, "server", pki.server_cert())
    other = pki.write_files(d, "other", pki.server_cert())
    client = pki.write_pem(d / "client-ca.pem", pki.leaf("CN=api.contoso", san=None).cert)
    (d / "junk.pem").write_text("not pem\n")
    return {
        "cert": server.cert,
        "key": server.key,
        "other_key": other.key,
        "client_ca": client,
        "junk": d / "junk.pem",
    }


def gunicorn_cfg(settings: dict[str, Any]) -> GunicornConfig:
    cfg = GunicornConfig()
    for name, value in settings.items():
        cfg.set(name, value)
    cfg.set("ssl_context", gunicorn_tls.ssl_context)
    return cfg


def settings(files: dict[str, Path], **changes: str) -> dict[str, Any]:
    env = {
        "CONNECTOR_TLS_CERT": str(files["cert"]),
        "CONNECTOR_TLS_KEY": str(files["key"]),
        "CONNECTOR_TLS_CLIENT_CA": str(files["client_ca"]),
        "CONNECTOR_TLS_CLIENT_CERT": "required",
        **changes,
    }
    return gunicorn_tls.tls_settings(env)


class FakeServer:
    def __init__(self, cfg: GunicornConfig) -> None:
        self.cfg = cfg
        self.errors: list[str] = []
        self.log = self

    def error(self, message: str) -> None:
        self.errors.append(message)

    def info(self, message: str) -> None:
        pass


def test_no_certificate_means_plain_http() -> None:
    assert gunicorn_tls.tls_settings({}) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONNECTOR_TLS_CERT": "c.pem"}, "CONNECTOR_TLS_CERT is set but CONNECTOR_TLS_KEY is not"),
        (
            {
                "CONNECTOR_TLS_CERT": "c",
                "CONNECTOR_TLS_KEY": "k",
                "CONNECTOR_TLS_CLIENT_CERT": "yes",
            },
            "expected required, optional or none, got 'yes'",
        ),
        (
            {
                "CONNECTOR_TLS_CERT": "c",
                "CONNECTOR_TLS_KEY": "k",
                "CONNECTOR_TLS_CLIENT_CERT": "optional",
            },
            "CONNECTOR_TLS_CLIENT_CERT needs CONNECTOR_TLS_CLIENT_CA",
        ),
    ],
)
def test_bad_environment_stops_gunicorn(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        gunicorn_tls.tls_settings(env)


def test_prepared_context_is_hardened(files: dict[str, Path]) -> None:
    ctx = gunicorn_tls.build_context(gunicorn_cfg(settings(files)))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert ctx.options & ssl.OP_NO_RENEGOTIATION and ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.num_tickets == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"CONNECTOR_TLS_KEY": "/nonexistent/key.pem"},
            r"^CONNECTOR_TLS_KEY: cannot read /nonexistent",
        ),
        ({"CONNECTOR_TLS_CERT": "/nonexistent/c.pem"}, r"^CONNECTOR_TLS_CERT: cannot read"),
        (
            {"CONNECTOR_TLS_KEY": "other_key"},
            r"^CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY: .*KEY_VALUES_MISMATCH",
        ),
        ({"CONNECTOR_TLS_CLIENT_CA": "junk"}, r"^CONNECTOR_TLS_CLIENT_CA: expected a PEM bundle"),
        ({"CONNECTOR_TLS_CERT": "junk"}, r"^CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY: expected a PEM"),
    ],
)
def test_broken_files_name_the_variable(
    files: dict[str, Path], change: dict[str, str], message: str
) -> None:
    resolved = {k: str(files.get(v, v)) for k, v in change.items()}
    with pytest.raises(ConfigError, match=message):
        gunicorn_tls.build_context(gunicorn_cfg(settings(files, **resolved)))


def test_workers_reuse_the_context_prepared_in_the_master(files: dict[str, Path]) -> None:
    cfg = gunicorn_cfg(settings(files))
    gunicorn_tls.prepare_tls(FakeServer(cfg), starting=True)

    def factory() -> ssl.SSLContext:
        raise AssertionError("a worker must not build a context per connection")

    first = gunicorn_tls.ssl_context(cfg, factory)
    assert gunicorn_tls.ssl_context(cfg, factory) is first


def test_without_a_prepared_context_each_worker_builds_one_once(files: dict[str, Path]) -> None:
    cfg = gunicorn_cfg(settings(files))
    built: list[ssl.SSLContext] = []

    def factory() -> ssl.SSLContext:
        built.append(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
        return built[-1]

    first = gunicorn_tls.ssl_context(cfg, factory)
    assert gunicorn_tls.ssl_context(cfg, factory) is first and len(built) == 1
    assert first.minimum_version == ssl.TLSVersion.TLSv1_2


def test_broken_files_at_start_stop_gunicorn(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = gunicorn_cfg(settings(files, CONNECTOR_TLS_KEY=str(files["other_key"])))
    with pytest.raises(SystemExit):
        gunicorn_tls.prepare_tls(FakeServer(cfg), starting=True)
    assert "error: CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY" in capsys.readouterr().err


def test_broken_files_at_reload_keep_the_last_good_context(files: dict[str, Path]) -> None:
    good = gunicorn_cfg(settings(files))
    gunicorn_tls.prepare_tls(FakeServer(good), starting=True)
    previous = gunicorn_tls._state.prepared
    broken = FakeServer(gunicorn_cfg(settings(files, CONNECTOR_TLS_KEY=str(files["other_key"]))))
    gunicorn_tls.prepare_tls(broken, starting=False)

    def factory() -> ssl.SSLContext:
        raise AssertionError("new workers must not load the broken files")

    assert previous is not None
    assert gunicorn_tls.ssl_context(broken.cfg, factory) is previous.context
    [message] = broken.errors
    assert message.startswith("TLS reload refused: CONNECTOR_TLS_CERT/CONNECTOR_TLS_KEY")
    assert message.endswith("the previous certificate keeps serving")
