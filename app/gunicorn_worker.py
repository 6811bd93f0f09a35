"""gunicorn's gthread worker with guards against idle and slow clients.

The stock gthread worker hands every accepted connection to its thread pool, where the
thread waits up to 5 s for the first byte, then reads headers and body with blocking reads
and no time limit (a TLS handshake too). Measured on gunicorn 27 with 2 workers x 4
threads: 200 idle connections delay every other request for minutes; a dozen clients
dripping header lines stop the service for as long as they drip (docs/operations.md).

Checklist:
 (1) a connection whose first bytes are not there yet waits in the worker's poller, not in
     a thread: idle connections cost a file descriptor, never a thread;
 (2) once a thread takes a connection, reading the request, answering it and writing the
     answer must finish within CONNECTOR_REQUEST_DEADLINE seconds (default 10; Entra gives
     up after 2-10 s anyway);
 (3) past the deadline a watchdog shuts the socket down: the blocked read or handshake
     returns, gunicorn's own error path closes the connection and the thread is free;
 (4) the watchdog only shuts sockets down and logs; it never closes or reads them.
What this cannot do: stop a client that keeps opening slow connections as fast as they are
cut. That needs a buffering front end (App Service, API Management): see SECURITY.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from gunicorn.workers import gthread

from app import logs

FIRST_BYTES_WAIT = 0.01  # seconds a thread may wait for a new connection's first bytes
_DEFAULT_DEADLINE = 10.0


def request_deadline(environ: dict[str, str] | None = None) -> float:
    """CONNECTOR_REQUEST_DEADLINE in seconds (0.5-300), default 10."""
    raw = (environ if environ is not None else os.environ).get("CONNECTOR_REQUEST_DEADLINE", "")
    try:
        value = float(raw) if raw else _DEFAULT_DEADLINE
    except ValueError:
        value = _DEFAULT_DEADLINE
    return min(max(value, 0.5), 300.0)


class GuardedThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """`worker_class = "app.gunicorn_worker.GuardedThreadWorker"` in gunicorn.conf.py."""

    def init_process(self) -> None:
        self._deadline = request_deadline()
        self._busy: dict[int, tuple[float, Any]] = {}
        self._busy_lock = threading.Lock()
        logs.configure()
        threading.Thread(target=self._watch, name="request-deadline", daemon=True).start()
        super().init_process()  # runs the worker; returns only when it stops

    def handle(self, conn: Any) -> Any:
        fresh = not conn.initialized and not conn.data_ready
        if fresh and not conn.wait_for_data(FIRST_BYTES_WAIT):  # (1)
            return gthread._DEFER
        key = id(conn)
        with self._busy_lock:
            self._busy[key] = (time.monotonic() + self._deadline, conn)  # (2)
        try:
            return super().handle(conn)
        finally:
            with self._busy_lock:
                self._busy.pop(key, None)

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self._deadline / 4))  # +-25% on the deadline is plenty
            now = time.monotonic()
            with self._busy_lock:
                expired = [(k, c) for k, (d, c) in self._busy.items() if d <= now]
                for key, _ in expired:
                    self._busy.pop(key, None)
            for _, conn in expired:
                self._cut(conn)

    def _cut(self, conn: Any) -> None:
        try:
            # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would drop
            # the SSL object the blocked thread is still using. (3)(4)
            socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)
        except (OSError, TypeError, ValueError):
            return  # closed meanwhile
        peer = conn.client[0] if isinstance(conn.client, tuple) and conn.client else None
        logs.event(
            logging.WARNING,
            "request.deadline_exceeded",
            peer=peer,
            deadline_s=self._deadline,
        )
