"""The mutual-TLS side of `make loadtest` (wrk cannot present a client certificate).

One process, a few threads, one kept-alive TLS connection each with a client certificate,
rotating its kinds; every answer classified by status and action, latencies kept.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TlsKind:
    name: str
    context: ssl.SSLContext
    path: str
    body: bytes
    expected: tuple[int, str | None]  # (status, action); None for a problem body


@dataclass
class TlsResult:
    sent: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


def _answer(status: int, body: bytes) -> tuple[int, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return status, "<not json>"
    return status, data.get("action") if isinstance(data, dict) else None


def _drive(kind: TlsKind, port: int, until: float, result: TlsResult, lock: threading.Lock) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=kind.context)
    headers = {"Content-Type": "application/json"}
    local = TlsResult()
    while time.monotonic() < until:
        started = time.monotonic()
        local.sent[kind.name] += 1
        try:
            conn.request("POST", kind.path, body=kind.body, headers=headers)
            response = conn.getresponse()
            answer = _answer(response.status, response.read())
        except (OSError, http.client.HTTPException) as exc:
            local.errors[f"{kind.name}: {type(exc).__name__}"] += 1
            conn.close()
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=kind.context)
            continue
        local.latencies.append((time.monotonic() - started) * 1000)
        if answer != kind.expected:
            local.unexpected[f"{kind.name}: {answer}"] += 1
    conn.close()
    with lock:
        result.sent.update(local.sent)
        result.unexpected.update(local.unexpected)
        result.errors.update(local.errors)
        result.latencies.extend(local.latencies)


def run_tls(
    kinds: list[TlsKind], port: int, seconds: float, threads_per_kind: int = 1
) -> TlsResult:
    """Drive every kind from its own threads for `seconds`."""
    result = TlsResult()
    lock = threading.Lock()
    until = time.monotonic() + seconds
    pool = [
        threading.Thread(target=_drive, args=(k, port, until, result, lock), daemon=True)
        for k in kinds
        for _ in range(threads_per_kind)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 30)
    return result
