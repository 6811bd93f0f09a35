"""A small closed-loop load generator for the fault tests: threads posting known requests.

Each request kind says which answers are right ((status, action) pairs; action None for a
problem body). Every answer is classified: right, wrong (an answer that is not allowed:
the thing that must never happen) or error (no answer: connection refused, reset, timeout).
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Answer = tuple[int, str | None]


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    body: bytes
    headers: Mapping[str, str]
    allowed: frozenset[Answer]


@dataclass(frozen=True)
class Result:
    kind: str
    at: float  # seconds since the load started
    answer: Answer | None  # None: no answer (see error)
    error: str = ""
    latency_ms: float = 0.0


def kind(name: str, path: str, body: object, headers: Mapping[str, str], *allowed: Answer) -> Kind:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Kind(
        name, path, raw, {"Content-Type": "application/json", **headers}, frozenset(allowed)
    )


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    def wrong(self, kinds: Mapping[str, Kind]) -> list[Result]:
        return [
            r
            for r in self.results
            if r.answer is not None and r.answer not in kinds[r.kind].allowed
        ]

    def errors(self) -> list[Result]:
        return [r for r in self.results if r.answer is None]

    def summary(self, kinds: Mapping[str, Kind]) -> str:
        by_answer = Counter(f"{r.kind}:{r.answer}" for r in self.results if r.answer)
        errors = Counter(r.error for r in self.errors())
        return (
            f"{len(self.results)} requests, {len(self.wrong(kinds))} wrong, "
            f"{len(self.errors())} without answer {dict(errors)}; answers {dict(by_answer)}"
        )


def _answer(status: int, body: bytes) -> Answer:
    try:
        data = json.loads(body)
    except ValueError:
        return status, "<not json>"
    action = data.get("action") if isinstance(data, dict) else None
    if action is None and isinstance(data, dict) and isinstance(data.get("data"), dict):
        actions = data["data"].get("actions") or [{}]
        action = str(actions[0].get("@odata.type", "")).rsplit(".", 1)[-1] or None
    return status, action


def one_request(
    url: str, k: Kind, timeout: float = 5.0, context: ssl.SSLContext | None = None
) -> tuple[Answer | None, str]:
    """One POST on a fresh connection: (answer, "") or (None, error class name)."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("POST", k.path, body=k.body, headers=dict(k.headers))
        response = conn.getresponse()
        return _answer(response.status, response.read()), ""
    except (OSError, http.client.HTTPException) as exc:
        return None, type(exc).__name__
    finally:
        conn.close()


@contextmanager
def running(
    url: str,
    kinds: Mapping[str, Kind],
    threads: int = 4,
    context: ssl.SSLContext | None = None,
    pause: float = 0.0,
) -> Iterator[Report]:
    """Post the kinds round-robin from `threads` threads until the block ends."""
    report = Report()
    stop = threading.Event()
    lock = threading.Lock()
    started = time.monotonic()
    names = list(kinds)

    def worker(offset: int) -> None:
        i = offset
        while not stop.is_set():
            k = kinds[names[i % len(names)]]
            i += 1
            t0 = time.monotonic()
            answer, error = one_request(url, k, context=context)
            result = Result(k.name, t0 - started, answer, error, (time.monotonic() - t0) * 1000)
            with lock:
                report.results.append(result)
            if pause:
                time.sleep(pause)

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for t in pool:
        t.start()
    try:
        yield report
    finally:
        stop.set()
        for t in pool:
            t.join(timeout=10)
