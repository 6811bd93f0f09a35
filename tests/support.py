"""Shared test helpers: configurations, credentials, and a real gunicorn in a subprocess."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse: battery staple"  # contains a colon on purpose (RFC 7617)

BASIC_TOML = """
environment = "production"
[auth]
methods = ["basic"]
[[auth.basic.credentials]]
username = "entra"
password_env = "TEST_BASIC_PASSWORD"
"""


def basic(user: str = "entra", password: str = PASSWORD, scheme: str = "Basic") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gunicorn_bin() -> str:
    return str(Path(sys.executable).with_name("gunicorn"))


class Server:
    """A running gunicorn: base URL, log text, and the process."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        text = self._poll_log(lambda text: needle in text, timeout)
        if needle not in text:
            raise AssertionError(f"{needle!r} not in server log:\n{text[-3000:]}")
        return text

    def wait_for_log_count(self, needle: str, count: int, timeout: float = 10.0) -> int:
        """How often `needle` is in the log, once it is there `count` times (a worker's
        thread may still be writing what the client has already seen happen)."""
        return self._poll_log(lambda text: text.count(needle) >= count, timeout).count(needle)

    def _poll_log(self, ready: Callable[[str], bool], timeout: float) -> str:
        """The log once `ready` holds for it, or as it is when `timeout` runs out."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if ready(text) or time.monotonic() >= deadline:
                return text
            time.sleep(0.05)


@contextmanager
def gunicorn(
    config_text: str,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    scheme: str = "http",
    workers: int = 1,
    ready_path: str = "/healthz",
    ssl_context: Any = None,
    config_path: Path | None = None,
) -> Iterator[Server]:
    """Start `gunicorn -c gunicorn.conf.py wsgi:app` on a free loopback port; stop it after."""
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        cfg = config_path or tmpdir / "connector.toml"
        if config_path is None:
            cfg.write_text(config_text, encoding="utf-8")
        port = free_port()
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", tmp),
            "CONNECTOR_CONFIG": str(cfg),
            "TEST_BASIC_PASSWORD": PASSWORD,
            "CONNECTOR_WORKERS": str(workers),
            "CONNECTOR_STORE_URL": f"sqlite:///{tmpdir / 'connector.db'}",
            **(env or {}),
        }
        log_path = tmpdir / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    gunicorn_bin(),
                    "-c",
                    "gunicorn.conf.py",
                    "wsgi:app",
                    "--bind",
                    f"127.0.0.1:{port}",
                    *args,
                ],
                cwd=ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = Server(proc, f"{scheme}://127.0.0.1:{port}", log_path)
        try:
            _wait_ready(server, ready_path, ssl_context)
            yield server
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(server: Server, path: str, ssl_context: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.proc.returncode}:\n{server.log()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(server.url + path, timeout=1, context=ssl_context) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not become ready:\n{server.log()[-3000:]}")


def post(
    url: str,
    body: bytes | dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    ssl_context: Any = None,
) -> tuple[int, dict[str, str], bytes]:
    """POST and return (status, headers, body) without raising on 4xx/5xx."""
    import json

    data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ssl_context) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
