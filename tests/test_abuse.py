"""Slow, idle and oversized clients against the real gunicorn: others keep getting answers.

Run with the guarded worker (app/gunicorn_worker.py) and a short request deadline. One
canary test shows why the guard exists: with gunicorn's stock gthread worker a handful of
idle connections delays everyone else by seconds. docs/operations.md has the figures.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import BASIC_TOML, Server, basic, gunicorn, post

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

URL = "/api/connector/post-federation-signup"
GUARDED = ("--worker-class", "app.gunicorn_worker.GuardedThreadWorker")
DEADLINE = 2.0
THREADS = 4  # gunicorn.conf.py's default per worker


def bound_ms(slow: int) -> float:
    """Worst case for a normal request: every slow client on its worker, cut round by round."""
    return (math.ceil(slow / THREADS) * DEADLINE + 1.5) * 1000


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    env = {"CONNECTOR_REQUEST_DEADLINE": str(DEADLINE)}
    with gunicorn(BASIC_TOML, workers=2, args=GUARDED, env=env) as s:
        yield s


def port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def probe(server: Server, n: int = 5, timeout: float = 10.0) -> list[float]:
    """Latencies (ms) of `n` normal sign-ups, each on a new connection; all must be answered."""
    latencies = []
    for _ in range(n):
        t0 = time.monotonic()
        status, _, body = post(server.url + URL, {"email": "a@contoso.com"}, basic(), timeout)
        assert (status, json.loads(body)["action"]) == (200, "Continue")
        latencies.append((time.monotonic() - t0) * 1000)
    return latencies


def connect(server: Server, first: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port(server)), timeout=10)
    if first:
        s.sendall(first)
    return s


@contextmanager
def dripping(sockets: list[socket.socket], chunk: bytes, every: float) -> Iterator[None]:
    """Keep sending `chunk` on every socket until the block ends (a slowloris client)."""
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(every):
            for s in sockets:
                with contextlib.suppress(OSError):  # cut by the server: what the deadline is for
                    s.sendall(chunk)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for s in sockets:
            s.close()


def all_cut(sockets: list[socket.socket], within_s: float) -> bool:
    """True when the server closes every connection (EOF or reset) within `within_s`."""
    deadline = time.monotonic() + within_s
    for s in sockets:
        while True:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                if s.recv(65536) == b"":
                    break
            except TimeoutError:
                return False
            except OSError:
                break
    return True


def test_200_idle_connections_cost_others_nothing(server: Server) -> None:
    idle = [connect(server) for _ in range(200)]
    try:
        time.sleep(0.3)
        latencies = probe(server, 10)
    finally:
        for s in idle:
            s.close()
    print(f"\n200 idle connections: normal requests max {max(latencies):.1f} ms")
    assert max(latencies) < 1000


def test_slow_headers_are_cut_at_the_deadline(server: Server) -> None:
    head = f"POST {URL} HTTP/1.1\r\nHost: x\r\n".encode()
    slow = [connect(server, head) for _ in range(12)]  # more than the 8 threads
    with dripping(slow, b"X-Slow: 1\r\n", 0.3):
        latencies = probe(server, 3, timeout=bound_ms(len(slow)) / 1000 + 2)
        assert all_cut(slow, bound_ms(len(slow)) / 1000)
    print(f"\n12 slowloris clients: normal requests max {max(latencies):.1f} ms")
    assert max(latencies) < bound_ms(len(slow))
    # The watchdog logs just after it cuts, so the client can see the cut first.
    cuts = server.wait_for_log_count('"event":"request.deadline_exceeded"', len(slow), 5.0)
    assert cuts >= len(slow)
    assert max(probe(server, 3)) < 1000  # and nothing lingers


def test_slow_body_is_cut_at_the_deadline(server: Server) -> None:
    head = (
        f"POST {URL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {basic()['Authorization']}\r\nContent-Length: 5000\r\n\r\n"
    ).encode()
    slow = [connect(server, head + b'{"email": "') for _ in range(6)]
    with dripping(slow, b"a", 0.2):
        latencies = probe(server, 3, timeout=bound_ms(len(slow)) / 1000 + 2)
        assert all_cut(slow, bound_ms(len(slow)) / 1000)
    print(f"\n6 slow bodies: normal requests max {max(latencies):.1f} ms")
    assert max(latencies) < bound_ms(len(slow))


def raw_exchange(server: Server, request: bytes) -> bytes:
    with connect(server) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


AUTH = f"Authorization: {basic()['Authorization']}\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (f"POST /{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), {400, 414}),
        (
            f"POST {URL} HTTP/1.1\r\nHost: x\r\n".encode()
            + b"".join(f"X-H{i}: v\r\n".encode() for i in range(60))
            + b"\r\n",
            {400, 431},
        ),
        (f"POST {URL} HTTP/1.1\r\nHost: x\r\nX-Big: {'v' * 9000}\r\n\r\n".encode(), {400, 431}),
        (
            f"POST {URL} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
            f"Content-Length: 1000000000000\r\n\r\n".encode(),
            {413},
        ),
        (
            f"POST {URL} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
            f"Content-Length: 70000\r\n\r\n".encode()
            + b"x" * 70000,
            {413},
        ),
        (
            f"POST {URL} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n".encode()
            + b"".join(b"4000\r\n" + b"x" * 0x4000 + b"\r\n" for _ in range(6))
            + b"0\r\n\r\n",
            {413},
        ),
    ],
    ids=["request-line-5000", "60-headers", "header-9000", "declared-1TB", "body-70KB",
         "chunked-96KB"],
)  # fmt: skip
def test_oversized_requests_are_refused_and_others_still_answered(
    server: Server, request_bytes: bytes, expected: set[int]
) -> None:
    t0 = time.monotonic()
    response = raw_exchange(server, request_bytes)
    elapsed = time.monotonic() - t0
    assert status_of(response) in expected, response[:300]
    assert elapsed < 2, f"refusal took {elapsed:.2f} s"
    if status_of(response) == 413:
        body = response.split(b"\r\n\r\n", 1)[1]
        assert json.loads(body)["action"] == "ShowBlockPage"  # the contract's answer
    assert max(probe(server, 2)) < 1000


def test_canary_stock_gthread_is_stalled_by_idle_connections() -> None:
    """Why the guard exists: gunicorn 27's gthread lets an idle connection hold a thread 5 s.

    If this starts failing, gunicorn fixed it upstream and the guard's item (1) can go.
    """
    env = {"CONNECTOR_THREADS": "2"}
    stock_worker = ("--worker-class", "gthread")
    with gunicorn(BASIC_TOML, workers=1, env=env, args=stock_worker) as stock:
        idle = [connect(stock) for _ in range(4)]  # two rounds of 5 s for 2 threads
        try:
            time.sleep(0.2)
            with pytest.raises(OSError, match="timed out"):
                post(stock.url + URL, {"email": "a@contoso.com"}, basic(), timeout=3)
        finally:
            for s in idle:
                s.close()
