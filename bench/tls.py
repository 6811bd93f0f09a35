"""Mutual-TLS figures (issue 3), side by side in one run, loopback only, about 3 minutes.

1. Kept-alive requests with a client certificate (gunicorn terminates TLS, certificate auth)
   against the same POST over plain HTTP with basic auth: requests/s, p50/p99, server CPU.
   Generator: bench/tls_load.py (wrk cannot present client certificates), the same for both.
2. Full handshakes, a new connection per request (`openssl s_time -new`, GET /healthz), one
   at a time and 16 at once, against gunicorn (2 workers) and `openssl s_server -Verify 1`
   with the same server key (RSA 2048, then ECDSA P-256), the physical limit here: one
   s_server process for one client, two (one per core, like the 2 workers) for 16 clients.
   Also gunicorn's default per-connection context, for reference (REFERENCE §7: ~0.49).
3. Certificate rotation through a graceful reload (SIGHUP) still works.
Usage: .venv/bin/python bench/tls.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median
from bench.connector import PATH
from bench.tls_load import run
from bench.tls_servers import (
    KINDS,
    Files,
    gunicorn,
    handshakes,
    port_of,
    rotation,
    s_servers,
)

Figures = dict[tuple[str, ...], list[float]]


def keepalive(files: Files, seconds: int, rounds: int, out: Figures) -> None:
    for rnd in range(rounds):
        for name in ("plain", "mtls") if rnd % 2 == 0 else ("mtls", "plain"):
            kind = "rsa2048" if name == "mtls" else None
            with gunicorn(files, kind) as server:
                load = run(
                    port_of(server),
                    files.mtls_request if kind else files.plain_request,
                    seconds,
                    tls=files.tls(kind) if kind else None,
                    probe=server.cpu_seconds,
                )
            cpu = load.probed / max(load.ok, 1) * 1e6
            out.setdefault((name, "rps"), []).append(load.rps)
            out.setdefault((name, "cpu"), []).append(cpu)
            print(
                f"  round {rnd + 1} {name:5s} {load.rps:6.0f} req/s  p50 {load.p50_ms:5.2f} ms  "
                f"p99 {load.p99_ms:6.2f} ms  server CPU {cpu:4.0f} us/req  failed {load.failed}",
                flush=True,
            )


def full_handshakes(files: Files, seconds: int, rounds: int, out: Figures) -> None:
    for rnd in range(rounds):
        for kind in KINDS:
            with s_servers(files, kind, 2) as procs:
                for parallel in (1, 16):
                    used = procs[:1] if parallel == 1 else procs
                    ports = [p.port for p in used]  # type: ignore[attr-defined]
                    rate, cpu = handshakes(
                        files, kind, ports, [p.pid for p in used], seconds, parallel
                    )
                    out.setdefault((kind, "openssl", str(parallel)), []).append(rate)
                    out.setdefault((kind, "openssl-cpu", str(parallel)), []).append(cpu)
            with gunicorn(files, kind) as server:
                for parallel in (1, 16):
                    rate, cpu = handshakes(
                        files, kind, [port_of(server)], server.pids(), seconds, parallel
                    )
                    out.setdefault((kind, "gunicorn", str(parallel)), []).append(rate)
                    out.setdefault((kind, "gunicorn-cpu", str(parallel)), []).append(cpu)
            for parallel in ("1", "16"):
                o, g = out[(kind, "openssl", parallel)][-1], out[(kind, "gunicorn", parallel)][-1]
                print(
                    f"  round {rnd + 1} {kind:8s} x{parallel:<2s} s_server {o:5.0f}/s "
                    f"({out[(kind, 'openssl-cpu', parallel)][-1]:5.0f} us CPU)  "
                    f"gunicorn {g:5.0f}/s ({out[(kind, 'gunicorn-cpu', parallel)][-1]:5.0f} us CPU)"
                    f"  ratio {g / o:.2f}",
                    flush=True,
                )
        with gunicorn(files, "rsa2048", files.default_conf) as server:
            rate, cpu = handshakes(files, "rsa2048", [port_of(server)], server.pids(), seconds, 1)
        out.setdefault(("rsa2048", "default", "1"), []).append(rate)
        out.setdefault(("rsa2048", "default-cpu", "1"), []).append(cpu)
        print(
            f"  round {rnd + 1} rsa2048  x1  gunicorn with its default per-connection context "
            f"{rate:5.0f}/s ({cpu:5.0f} us CPU)",
            flush=True,
        )


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return f"{value:.2f}"
    return f"{value:.2f} (target >= {target}: {'met' if value >= target else 'MISSED'})"


def summary(f: Figures, rotated: str) -> None:
    m = {k: median(v) for k, v in f.items()}
    print("\n== summary (medians)")
    for name, label in (("plain", "plain HTTP"), ("mtls", "mutual TLS")):
        print(
            f"keep-alive   {label:10s} {m[(name, 'rps')]:6.0f} req/s  "
            f"server CPU {m[(name, 'cpu')]:4.0f} us/req"
        )
    print(f"keep-alive   ratio mTLS/plain {verdict(m[('mtls', 'rps')] / m[('plain', 'rps')], 0.6)}")
    for kind in KINDS:
        for parallel in ("1", "16"):
            g, o = m[(kind, "gunicorn", parallel)], m[(kind, "openssl", parallel)]
            gc, oc = m[(kind, "gunicorn-cpu", parallel)], m[(kind, "openssl-cpu", parallel)]
            target = 0.7 if kind == "rsa2048" else None
            print(
                f"handshakes   {kind:8s} x{parallel:<2s} gunicorn {g:5.0f}/s  s_server {o:5.0f}/s  "
                f"ratio {verdict(g / o, target)}; CPU/handshake {gc:.0f} vs {oc:.0f} us"
            )
    d, o = m[("rsa2048", "default", "1")], m[("rsa2048", "openssl", "1")]
    print(
        f"handshakes   rsa2048  x1  gunicorn's default per-connection context {d:5.0f}/s  "
        f"ratio {d / o:.2f}; CPU/handshake {m[('rsa2048', 'default-cpu', '1')]:.0f} us"
    )
    print(f"rotation     {rotated}")
    print("note: the load generators share the 2 cores with the servers; compare within one run.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    began = time.monotonic()
    figures: Figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = Files(Path(tmp))
        print(
            f"== keep-alive: POST {PATH}, 16 connections (2 processes x 8 threads), "
            f"{args.seconds} s x {args.rounds} rounds, gunicorn gthread 2 workers x 4 threads;\n"
            "   plain = HTTP + basic auth; mtls = TLS 1.3 + required client certificate",
            flush=True,
        )
        keepalive(files, args.seconds, args.rounds, figures)
        print(f"== full handshakes (s_time -new, GET /healthz), {args.seconds} s each", flush=True)
        full_handshakes(files, args.seconds, args.rounds, figures)
        print("== rotation", flush=True)
        rotated = rotation(files)
        summary(figures, rotated)
    print(f"total time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
