"""PostgreSQL connections for the store: a pool per worker process, deadlines, retries.

Every statement has statement_timeout and lock_timeout set on its connection; waiting for
a pooled connection has the same budget. The pool connects in the background (never on the
request path, never blocking start-up) and reconnects by itself when the server is back;
a connection the server dropped is replaced and the work retried while nothing that could
have written was sent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from app.config.model import StoreConfig
from app.errors import StoreError

T = TypeVar("T")
Conn = psycopg.Connection[TupleRow]
# After this long failing, the pool stops its own attempts; the next request starts anew.
_RECONNECT_S = 5.0


def describe_url(url: str) -> str:
    """The database a URL names, without its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"store url: not a valid PostgreSQL URL ({exc})") from exc
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


class Attempt:
    """Set `writing` before sending anything that may write outside a transaction."""

    writing = False


class Database:
    """A lazily opened, fork-aware pool and the one way to use it: `run`."""

    def __init__(self, config: StoreConfig) -> None:
        self.url = config.url
        self.location = describe_url(config.url)
        self.timeout_ms = config.statement_timeout_ms
        self.pool_size = config.pool_size
        self._pool: ConnectionPool[Conn] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _connection_kwargs(self) -> dict[str, Any]:
        given = conninfo_to_dict(self.url)
        defaults: dict[str, Any] = {
            "connect_timeout": 2,  # libpq's minimum; connections are made off the request path
            "application_name": "entra-api-connector",
            # A peer that vanished without a reset: give up on unacknowledged data quickly.
            "tcp_user_timeout": max(1000, 2 * self.timeout_ms),
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        return {"autocommit": True, **{k: v for k, v in defaults.items() if k not in given}}

    def _configure(self, conn: Conn) -> None:
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false), "
            "set_config('lock_timeout', %s, false), "
            "set_config('idle_in_transaction_session_timeout', '5s', false)",
            (f"{self.timeout_ms}ms", f"{self.timeout_ms}ms"),
        )

    def pool(self) -> ConnectionPool[Conn]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                # After a fork the parent's pool is dropped, never closed: closing would
                # end the parent's sessions, which share the same sockets.
                self._pid = os.getpid()
                self._pool = ConnectionPool(
                    self.url,
                    min_size=self.pool_size,
                    max_size=self.pool_size,
                    kwargs=self._connection_kwargs(),
                    configure=self._configure,
                    timeout=self.timeout_ms / 1000,
                    reconnect_timeout=_RECONNECT_S,
                    name="connector-store",
                    open=False,
                )
                self._pool.open(wait=False)  # never block start-up on the database
            return self._pool

    def run(
        self,
        work: Callable[[Conn, Attempt], T],
        wait_s: float | None = None,
        transaction: bool = False,
    ) -> T:
        """Run `work` on one pooled connection, in a transaction if asked.

        A connection the server had dropped (restart, failover) is replaced and the work
        retried, but only while nothing that could have written was sent.
        """
        budget = self.timeout_ms / 1000 if wait_s is None else wait_s
        pool = self.pool()
        deadline = time.monotonic() + budget
        last: Exception | None = None
        for _ in range(self.pool_size + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempt = Attempt()
            used: Conn | None = None
            try:
                with pool.connection(timeout=remaining) as conn:
                    used = conn
                    if not transaction:
                        return work(conn, attempt)
                    with conn.transaction():
                        result = work(conn, attempt)
                        attempt.writing = True  # COMMIT is next
                    return result
            except PoolTimeout as exc:
                raise StoreError(
                    f"postgresql store {self.location}: no connection within "
                    f"{budget * 1000:.0f} ms (server down or pool exhausted)"
                ) from exc
            except psycopg.OperationalError as exc:
                # A timeout, or a failure after a write was sent, is final: fail closed.
                if attempt.writing or used is None or not used.broken:
                    raise StoreError(f"postgresql store {self.location}: {_why(exc)}") from exc
                last = exc
            except psycopg.Error as exc:
                raise StoreError(f"postgresql store {self.location}: {_why(exc)}") from exc
        why = _why(last) if last else f"no connection within {budget * 1000:.0f} ms"
        raise StoreError(f"postgresql store {self.location}: unavailable ({why})")

    def stats(self) -> dict[str, int]:
        return self.pool().get_stats()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close(timeout=1.0)


def _why(exc: Exception | None) -> str:
    """The driver's message on one line (it may carry CONTEXT and DETAIL lines)."""
    return " ".join(str(exc).split())
