"""Servers and certificates for bench/tls.py: gunicorn with TLS, `openssl s_server`, s_time."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.common import BIN, CLK_TCK, ROOT, Server, free_port
from bench.connector import BODY, PASSWORD, PATH, config_text
from bench.tls_load import post_request
from tests import pki

CERT_AUTH = """
[auth.certificate]
sources = ["tls"]
thumbprints = ["{pin}"]
"""
# gunicorn's own behaviour, for reference: a new context (key re-read) for every connection.
DEFAULT_CONTEXT = """
globals()["__file__"] = {conf!r}
exec(compile(open({conf!r}).read(), {conf!r}, "exec"), globals())
from app.gunicorn_tls import harden
def ssl_context(config, default_ssl_context_factory):
    return harden(default_ssl_context_factory())
"""
KINDS = ("rsa2048", "ec-p256")


class Files:
    """Certificates (Entra-shaped RSA client, RSA and P-256 servers), config, requests."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        client = pki.leaf("CN=api.contoso", san=None, eku="both", key_type="rsa2048")
        self.client = pki.write_files(d, "client", client)
        self.servers = {
            k: pki.write_files(d, f"server-{k}", pki.server_cert(key_type=k)) for k in KINDS
        }
        (d / "www").mkdir()
        (d / "www" / "healthz").write_text('{"status":"ok"}\n')
        auth = "Basic " + base64.b64encode(f"entra:{PASSWORD}".encode()).decode()
        self.plain_request = post_request(PATH, BODY.encode(), {"Authorization": auth})
        self.mtls_request = post_request(PATH, BODY.encode(), {})
        self.config = d / "connector.toml"
        text = config_text(None).replace(
            'methods = ["basic"]', 'methods = ["basic", "certificate"]'
        )
        self.config.write_text(text + CERT_AUTH.format(pin=client.sha256))
        self.default_conf = d / "default-context.conf.py"
        self.default_conf.write_text(DEFAULT_CONTEXT.format(conf=str(ROOT / "gunicorn.conf.py")))

    def tls(self, kind: str) -> tuple[str, str, str]:
        return (str(self.servers[kind].cert), str(self.client.cert), str(self.client.key))


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


@contextmanager
def gunicorn(files: Files, kind: str | None, conf: Path | None = None) -> Iterator[Server]:
    """The connector (2 workers); TLS with a required client certificate when `kind` is set."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_PASSWORD": PASSWORD,
        "CONNECTOR_CONFIG": str(files.config),
        "CONNECTOR_BIND": f"127.0.0.1:{port}",
        "CONNECTOR_WORKERS": "2",
        "CONNECTOR_STORE_URL": f"sqlite:///{files.dir / 'bench.db'}",
    }
    if kind:
        env |= {
            "CONNECTOR_TLS_CERT": str(files.servers[kind].cert),
            "CONNECTOR_TLS_KEY": str(files.servers[kind].key),
            "CONNECTOR_TLS_CLIENT_CA": str(files.client.cert),
            "CONNECTOR_TLS_CLIENT_CERT": "required",
        }
    log = files.dir / f"gunicorn-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(conf or ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    server = Server(proc, f"127.0.0.1:{port}")
    try:
        _wait_port(port, proc, log)
        while len(server.pids()) < 3:
            time.sleep(0.1)
        time.sleep(0.5)  # the workers import the app
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


@contextmanager
def s_servers(files: Files, kind: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` single-threaded `openssl s_server -Verify 1` processes, one port each."""
    procs: list[subprocess.Popen[bytes]] = []
    ports = []
    try:
        for _ in range(count):
            port = free_port()
            cmd = [
                "openssl",
                "s_server",
                "-accept",
                str(port),
                "-cert",
                str(files.servers[kind].cert),
            ]
            cmd += ["-key", str(files.servers[kind].key), "-Verify", "1"]
            # One session ticket, as the connector's context (app/gunicorn_tls.py) issues.
            cmd += ["-CAfile", str(files.client.cert), "-num_tickets", "1", "-WWW", "-quiet"]
            log = files.dir / f"s_server-{port}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(cmd, cwd=files.dir / "www", stdout=out, stderr=out)
            procs.append(proc)
            ports.append(port)
            _wait_port(port, proc, log)
        for proc, port in zip(procs, ports, strict=True):
            proc.port = port  # type: ignore[attr-defined]
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


_S_TIME = re.compile(r"(\d+) connections in \d+ real seconds, (\d+) bytes read per connection")


def handshakes(
    files: Files, kind: str, ports: Sequence[int], pids: Sequence[int], seconds: int, parallel: int
) -> tuple[float, float]:
    """(full handshakes per second, server CPU us per handshake) from `parallel` s_time runs."""

    def command(port: int) -> list[str]:
        cmd = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new"]
        cmd += ["-time", str(seconds), "-cert", str(files.client.cert)]
        cmd += ["-key", str(files.client.key), "-CAfile", str(files.servers[kind].cert)]
        return [*cmd, "-www", "/healthz"]

    cpu0 = cpu_seconds(pids)
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            command(ports[i % len(ports)]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for i in range(parallel)
    ]
    outputs = [p.communicate(timeout=seconds + 60)[0].decode() for p in procs]
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pids) - cpu0
    total = 0
    for out in outputs:
        match = _S_TIME.search(out)
        if not match or int(match.group(2)) < 40:  # an answer is 60-160 bytes
            raise RuntimeError(f"s_time failed:\n{out[-800:]}")
        total += int(match.group(1))
    return total / elapsed, cpu / max(total, 1) * 1e6


def served_sha256(port: int, files: Files) -> str:
    """SHA-256 of the certificate the server presents now."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.load_cert_chain(files.client.cert, files.client.key)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True) or b"").hexdigest().upper()


def rotation(files: Files) -> str:
    """Replace the server certificate and key under gunicorn, SIGHUP, see the new one served."""
    d = files.dir / "rotate"
    d.mkdir()
    second = pki.server_cert()
    files.servers["rotate"] = pki.write_files(d, "live", pki.server_cert())
    fresh = pki.write_files(d, "fresh", second)
    with gunicorn(files, "rotate") as server:
        port = port_of(server)
        before = served_sha256(port, files)
        os.replace(fresh.key, files.servers["rotate"].key)
        os.replace(fresh.cert, files.servers["rotate"].cert)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGHUP)
        while time.monotonic() - started < 20:
            if served_sha256(port, files) == second.sha256:
                took = time.monotonic() - started
                return f"ok, the new certificate served {took:.1f} s after SIGHUP"
            time.sleep(0.1)
        return f"FAILED: still serving {before[:16]}... 20 s after SIGHUP"
