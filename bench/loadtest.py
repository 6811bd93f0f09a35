"""`make loadtest`: sustained mixed load on the real service; fails on any unexpected answer.

One gunicorn (gunicorn.conf.py as shipped) terminating TLS with client certificates
optional, serving basic auth and pinned client certificates at once, on loopback only.
wrk sends valid sign-ups, blocked ones, malformed bodies, invalid attributes and bad
credentials (basic auth, over TLS); a Python client at the same time presents a pinned
certificate (valid and blocked sign-ups) and an unpinned one. Prints requests, answers
and errors by kind, p50/p99, and exits 1 on an unexpected status, a socket error, or a
p99 over 100 ms. Bounded: --seconds (default 60) plus ~5 s of start-up.

Usage: python bench/loadtest.py [--seconds 60] [--connections 8] [--tls-threads 1]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import need_tool
from bench.loadtest_tls import TlsKind, TlsResult, run_tls
from bench.loadtest_wrk import ANSWERS, WrkKind, WrkResult, run_wrk, write_script
from tests import pki
from tests.support import gunicorn

PASSWORD = "loadtest-password-0123456789"  # loopback-only throwaway, never a real secret
SUBMIT = "/api/connector/post-attribute-collection"
P99_LIMIT_MS = 100.0
CONFIG = """
environment = "production"
[auth]
methods = ["basic", "certificate"]
[[auth.basic.credentials]]
username = "entra"
password_env = "LOADTEST_PASSWORD"
[auth.certificate]
sources = ["tls"]
thumbprints = ["{pin}"]
[rules.email_domains]
deny = ["mailinator.com"]
[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{{5}}$"
"""
GOOD = {"email": "ada@contoso.com", "postalCode": "75001", "ui_locales": "en-US"}
BLOCKED = {**GOOD, "email": "ada@mailinator.com"}


def basic(password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"entra:{password}".encode()).decode()}


def wrk_kinds() -> list[WrkKind]:
    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    return [
        WrkKind("continue", SUBMIT, body(GOOD), basic()),
        WrkKind("blocked", SUBMIT, body(BLOCKED), basic()),
        WrkKind("unusable", SUBMIT, b'{"email": 5, "postalCode": [1]}', basic()),
        WrkKind("validation", SUBMIT, body({**GOOD, "postalCode": "1"}), basic()),
        WrkKind("unauthorized", SUBMIT, body(GOOD), basic("not-the-password")),
    ]


def client_context(server_cert: Path, files: pki.PemFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(server_cert))
    ctx.load_cert_chain(files.cert, files.key)
    return ctx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--tls-threads", type=int, default=1, help="threads per mTLS kind")
    args = ap.parse_args()
    if not 1 <= args.seconds <= 80:
        ap.error("--seconds must be between 1 and 80 (the whole run stays under 90 s)")
    wrk = need_tool("wrk")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        server_files = pki.write_files(d, "server", pki.server_cert())
        pinned = pki.leaf("CN=api.contoso", san=None, eku="both", key_type="rsa2048")
        unpinned = pki.leaf("CN=api.contoso", san=None, eku="both")
        pinned_files = pki.write_files(d, "pinned", pinned)
        unpinned_files = pki.write_files(d, "unpinned", unpinned)
        client_ca = pki.write_pem(d / "client-ca.pem", pinned.cert, unpinned.cert)
        env = {
            "LOADTEST_PASSWORD": PASSWORD,
            "CONNECTOR_TLS_CERT": str(server_files.cert),
            "CONNECTOR_TLS_KEY": str(server_files.key),
            "CONNECTOR_TLS_CLIENT_CA": str(client_ca),
            "CONNECTOR_TLS_CLIENT_CERT": "optional",
            "CONNECTOR_WORKERS": os.environ.get("CONNECTOR_WORKERS", "2"),
        }
        ready = ssl.create_default_context(cafile=str(server_files.cert))
        good_ctx = client_context(server_files.cert, pinned_files)
        tls_kinds = [
            TlsKind("mtls continue", good_ctx, SUBMIT, json.dumps(GOOD).encode(),
                    (200, "Continue")),
            TlsKind("mtls blocked", good_ctx, SUBMIT, json.dumps(BLOCKED).encode(),
                    (200, "ShowBlockPage")),
            TlsKind("mtls unpinned", client_context(server_files.cert, unpinned_files), SUBMIT,
                    json.dumps(GOOD).encode(), (403, None)),
        ]  # fmt: skip
        script = write_script(wrk_kinds(), d / "loadtest.lua")
        with gunicorn(
            CONFIG.format(pin=pinned.sha256), env=env, scheme="https", ssl_context=ready
        ) as server:
            port = int(server.url.rsplit(":", 1)[1])
            print(
                f"loadtest: {args.seconds} s on {server.url} (loopback), gunicorn.conf.py, "
                f"{env['CONNECTOR_WORKERS']} workers, TLS with optional client certificates; "
                f"wrk -c{args.connections} (basic auth) + {len(tls_kinds) * args.tls_threads} "
                "mTLS keep-alive clients",
                flush=True,
            )
            tls: list[TlsResult] = []
            side = threading.Thread(
                target=lambda: tls.append(run_tls(tls_kinds, port, args.seconds, args.tls_threads))
            )
            started = time.monotonic()
            side.start()
            w = run_wrk(wrk, server.url, script, args.seconds, args.connections)
            side.join()
            elapsed = time.monotonic() - started
            log = server.log()
        return report(args, w, tls[0], elapsed, log)


def report(args: argparse.Namespace, w: WrkResult, t: TlsResult, elapsed: float, log: str) -> int:
    wrk_total = sum(w.got.values())
    tls_total = len(t.latencies) + sum(t.errors.values())
    total = wrk_total + tls_total
    print(f"requests: {total} in {elapsed:.1f} s = {total / elapsed:.0f} req/s "
          f"(basic via wrk {wrk_total}, mutual TLS {tls_total})")  # fmt: skip
    unexpected = 0
    print("by kind:                  sent   answered as expected   unexpected")
    for kind, label in ANSWERS.items():
        sent, got = w.sent.get(kind, 0), w.got.get(kind, 0)
        # wrk stops with up to one request in flight per connection: those are not answers.
        missing = max(0, sent - got - args.connections)
        unexpected += missing
        print(f"  {label:22s} {sent:8d}   {got:20d}   {missing:10d}")
    for key, n in w.got.items():
        if key not in ANSWERS:
            unexpected += n
            print(f"  wrk {key}: {n}")
    for name in sorted(t.sent):
        bad = sum(n for k, n in t.unexpected.items() if k.startswith(name + ":"))
        errs = sum(n for k, n in t.errors.items() if k.startswith(name + ":"))
        print(
            f"  {name:22s} {t.sent[name]:8d}   {t.sent[name] - bad - errs:20d}   {bad + errs:10d}"
        )
        unexpected += bad + errs
    for k, n in (t.unexpected + t.errors).items():
        print(f"    {k}: {n}")
    socket_errors = sum(w.socket_errors.values())
    print(f"errors: unexpected answers {unexpected}, wrk socket errors {socket_errors} "
          f"{w.socket_errors}")  # fmt: skip
    tls_p50 = statistics.median(t.latencies) if t.latencies else 0.0
    tls_p99 = percentile(t.latencies, 0.99)
    print(
        f"latency: basic (wrk) p50 {w.p50_ms:.2f} ms p99 {w.p99_ms:.2f} ms; mutual TLS "
        f"p50 {tls_p50:.2f} ms p99 {tls_p99:.2f} ms (limit p99 < {P99_LIMIT_MS:.0f} ms)"
    )
    tracebacks = log.count("Traceback")
    print(f"server log: {tracebacks} tracebacks, {log.count('internal.error')} internal errors")
    ok = (
        unexpected == 0
        and socket_errors == 0
        and tracebacks == 0
        and max(w.p99_ms, tls_p99) < P99_LIMIT_MS
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
