"""A small keep-alive load generator that can present a client certificate (wrk cannot).

Processes x threads, one kept-alive connection per thread, the same pre-built request
over and over; plain HTTP and HTTPS go through the same code, so their ratio is fair.
Connections are opened (and TLS handshakes done) before the timed window starts.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")


@dataclass(frozen=True)
class Load:
    ok: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    probed: float = 0.0  # change of `probe()` over the timed window (server CPU seconds)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds


def _connect(port: int, context: ssl.SSLContext | None) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw


def _exchange(sock: socket.socket, request: bytes, buf: bytearray) -> int:
    """Send one request, read one response; the status. `buf` keeps bytes read ahead."""
    sock.sendall(request)
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head = bytes(buf[: end + 2])
    match = _LENGTH.search(head)
    need = end + 4 + (int(match.group(1)) if match else 0)
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    del buf[:need]
    return int(head[9:12])


def _thread(
    port: int,
    request: bytes,
    context: ssl.SSLContext | None,
    start: float,
    end: float,
    out: list[tuple[int, int, list[float]]],
) -> None:
    ok = failed = 0
    latencies: list[float] = []
    sock = _connect(port, context)
    buf = bytearray()
    for _ in range(3):  # warm-up: the first requests after a handshake are not measured
        _exchange(sock, request, buf)
    while time.time() < start:
        _exchange(sock, request, buf)
    while (now := time.time()) < end:
        try:
            status = _exchange(sock, request, buf)
        except (OSError, ValueError):
            failed += 1
            sock.close()
            sock, buf = _connect(port, context), bytearray()
            continue
        latencies.append(time.time() - now)
        if 200 <= status < 300:
            ok += 1
        else:
            failed += 1
    sock.close()
    out.append((ok, failed, latencies))


def _process(
    port: int,
    request: bytes,
    tls: tuple[str, str, str] | None,
    threads: int,
    start: float,
    end: float,
    queue: mp.Queue,  # type: ignore[type-arg]
) -> None:
    context = None
    if tls:
        server_ca, cert, key = tls
        context = ssl.create_default_context(cafile=server_ca)
        context.load_cert_chain(cert, key)
    out: list[tuple[int, int, list[float]]] = []
    workers = [
        threading.Thread(target=_thread, args=(port, request, context, start, end, out))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ok = sum(o[0] for o in out)
    failed = sum(o[1] for o in out) + (threads - len(out))  # a thread that died counts
    latencies = [x for o in out for x in o[2]]
    queue.put((ok, failed, latencies[:: max(1, len(latencies) // 20000)]))


def run(
    port: int,
    request: bytes,
    seconds: float,
    *,
    tls: tuple[str, str, str] | None = None,
    processes: int = 2,
    threads: int = 8,
    settle: float = 1.5,
    probe: Callable[[], float] = lambda: 0.0,
) -> Load:
    """Drive 127.0.0.1:`port` for `seconds` after `settle` seconds of connecting and warm-up.

    `probe` (e.g. the server's CPU seconds) is read when the window opens and closes.
    """
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + settle
    end = start + seconds
    procs = [
        ctx.Process(target=_process, args=(port, request, tls, threads, start, end, queue))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    first = probe()
    time.sleep(max(0.0, end - time.time()))
    probed = probe() - first
    results = [queue.get(timeout=seconds + settle + 60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    latencies = sorted(x for r in results for x in r[2]) or [0.0]
    return Load(
        ok=sum(r[0] for r in results),
        failed=sum(r[1] for r in results),
        seconds=seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        probed=probed,
    )


def post_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A keep-alive HTTP/1.1 POST, built once."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
