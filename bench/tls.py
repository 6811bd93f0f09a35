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
Servers compared with each other run side by side and the measurements alternate between
them, so that load from elsewhere on the machine hits both alike. Besides the rates, each
line gives the server's CPU time per request or handshake (from /proc), which the load
generators sharing the 2 cores do not distort.
Usage: .venv/bin/python bench/tls.py [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
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
    with gunicorn(files, None) as plain, gunicorn(files, "rsa2048") as mtls:
        servers = {"plain": plain, "mtls": mtls}
        for rnd in range(rounds):
            for name in ("plain", "mtls") if rnd % 2 == 0 else ("mtls", "plain"):
                server = servers[name]
                load = run(
                    port_of(server),
                    files.mtls_request if name == "mtls" else files.plain_request,
                    seconds,
                    tls=files.tls("rsa2048") if name == "mtls" else None,
                    probe=server.cpu_seconds,
                )
                cpu = load.probed / max(load.ok, 1) * 1e6
                out.setdefault((name, "rps"), []).append(load.rps)
                out.setdefault((name, "cpu"), []).append(cpu)
                print(
                    f"  round {rnd + 1} {name:5s} {load.rps:6.0f} req/s  p50 {load.p50_ms:5.2f} ms"
                    f"  p99 {load.p99_ms:6.2f} ms  server CPU {cpu:4.0f} us/req  "
                    f"failed {load.failed}",
                    flush=True,
                )


def _measure(
    files: Files,
    kind: str,
    label: str,
    ports: list[int],
    pids: list[int],
    seconds: int,
    parallel: int,
    out: Figures,
) -> float:
    rate, cpu = handshakes(files, kind, ports, pids, seconds, parallel)
    out.setdefault((kind, label, str(parallel)), []).append(rate)
    out.setdefault((kind, f"{label}-cpu", str(parallel)), []).append(cpu)
    return rate


def full_handshakes(files: Files, seconds: int, rounds: int, out: Figures) -> None:
    """Servers of one key type run side by side; measurements alternate between them."""
    for kind in KINDS:
        with (
            s_servers(files, kind, 2) as procs,
            gunicorn(files, kind) as server,
            gunicorn(files, kind, files.default_conf)
            if kind == "rsa2048"
            else nullcontext() as default,
        ):
            for parallel in (1, 16):
                used = procs[:1] if parallel == 1 else procs
                ports = [p.port for p in used]  # type: ignore[attr-defined]
                for rnd in range(rounds):
                    args = (seconds, parallel, out)
                    o = _measure(files, kind, "openssl", ports, [p.pid for p in used], *args)
                    g = _measure(files, kind, "gunicorn", [port_of(server)], server.pids(), *args)
                    line = (
                        f"  round {rnd + 1} {kind:8s} x{parallel:<2d} s_server {o:5.0f}/s  "
                        f"gunicorn {g:5.0f}/s  ratio {g / o:.2f}"
                    )
                    if kind == "rsa2048" and parallel == 1:
                        d = _measure(
                            files, kind, "default", [port_of(default)], default.pids(), *args
                        )
                        line += f"  (gunicorn's default per-connection context {d:5.0f}/s)"
                    print(line, flush=True)


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
                f"ratio {verdict(g / o, target)}; server CPU/handshake {gc:.0f} vs {oc:.0f} us "
                f"({oc / gc:.2f})"
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
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
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
