"""PostgreSQL store: psycopg 3 with a pool per worker process, for several instances.

Concurrency: a redemption locks its invite row (SELECT ... FOR UPDATE), counts the
redemptions and inserts one row, in one transaction; the row lock serialises redemptions of
one code across every worker and instance, different codes run in parallel. Every statement
has statement_timeout and lock_timeout set on its connection; waiting for a pooled
connection has the same budget. The pool reconnects in the background, so the store
recovers by itself when the server comes back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from app.config.model import StoreConfig
from app.errors import StoreError
from app.store import schema
from app.store.model import (
    Claimant,
    InviteRow,
    MigrationReport,
    NewInvite,
    Outcome,
    Redemption,
    RevokeResult,
    judge,
)

T = TypeVar("T")
Conn = psycopg.Connection[TupleRow]
# The invite and whether this redeemer already redeemed it, in one consistent read.
_READ = (
    "SELECT i.id, i.created_at, i.expires_at, i.max_uses, i.uses, i.revoked_at, i.email, "
    "i.domain, i.claims, i.note, EXISTS (SELECT 1 FROM invite_redemptions r "
    "WHERE r.invite_id = i.id AND r.redeemer = %(redeemer)s) "
    "FROM invites i WHERE i.code_hash = %(hash)s"
)
# One statement, so one atomic step: take a use if one is left and record who took it.
# A concurrent taker holds the row; once it commits, PostgreSQL re-checks the guard on
# the new row version, so `uses < max_uses` holds whatever the number of workers. A
# second row for the same redeemer violates the key and the whole statement (the use
# included) is undone.
_TAKE_USE = """
WITH taken AS (
    UPDATE invites SET uses = uses + 1
    WHERE id = %(id)s AND uses < max_uses AND revoked_at IS NULL
      AND (expires_at IS NULL OR expires_at > %(now)s)
    RETURNING id
)
INSERT INTO invite_redemptions (invite_id, redeemer, redeemed_at)
SELECT id, %(redeemer)s, %(now)s FROM taken
RETURNING invite_id
"""
_MIGRATION_TIMEOUT = "60s"
_MIGRATION_WAIT_S = 2.0  # for a first connection at start-up; requests wait far less
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


class _Attempt:
    """Set `writing` before sending anything that may write outside a transaction."""

    writing = False


class PostgresStore:
    backend = "postgresql"

    def __init__(self, config: StoreConfig) -> None:
        self.url = config.url
        self.location = describe_url(config.url)
        self.timeout_ms = config.statement_timeout_ms
        self.pool_size = config.pool_size
        self._pool: ConnectionPool[Conn] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._migrated = False

    # -- connections ---------------------------------------------------------------

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

    def _get_pool(self) -> ConnectionPool[Conn]:
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

    def _run(
        self,
        work: Callable[[Conn, _Attempt], T],
        wait_s: float | None = None,
        transaction: bool = False,
    ) -> T:
        """Run `work` on one pooled connection, in a transaction if asked.

        A connection the server had dropped (restart, failover) is replaced and the work
        retried, but only while nothing that could have written was sent.
        """
        budget = self.timeout_ms / 1000 if wait_s is None else wait_s
        deadline = time.monotonic() + budget
        pool = self._get_pool()
        last: Exception | None = None
        for _ in range(self.pool_size + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempt = _Attempt()
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
        raise StoreError(f"postgresql store {self.location}: unavailable ({_why(last)})")

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self._migrate(None)

    # -- Store interface -------------------------------------------------------------

    def migrate(self) -> MigrationReport:
        return self._migrate(_MIGRATION_WAIT_S)

    def _migrate(self, wait_s: float | None) -> MigrationReport:
        def run(conn: Conn, _: _Attempt) -> tuple[dict[int, str], list[schema.Migration]]:
            conn.execute(f"SET LOCAL statement_timeout = '{_MIGRATION_TIMEOUT}'")
            conn.execute(f"SET LOCAL lock_timeout = '{_MIGRATION_TIMEOUT}'")
            # Workers and instances starting together: one migrates, the others wait.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, checksum text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            applied = {int(v): str(c) for v, c in rows}
            todo = schema.pending(self.backend, applied)
            for migration in todo:
                conn.execute(migration.sql.encode())  # several statements, no parameters
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            return applied, todo

        applied, todo = self._run(run, wait_s, transaction=True)
        self._migrated = True
        version = max([*applied, *(m.version for m in todo)], default=0)
        return MigrationReport(self.backend, self.location, version, tuple(m.version for m in todo))

    def ping(self) -> dict[str, Any]:
        self._ensure_schema()
        row = self._run(
            lambda conn, _: conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        )
        stats = self._get_pool().get_stats()
        return {
            "backend": self.backend,
            "schema_version": row[0] if row else None,
            "pool_size": stats.get("pool_size", 0),
            "pool_available": stats.get("pool_available", 0),
        }

    def create_invites(self, invites: Sequence[NewInvite]) -> None:
        rows = [
            (
                i.id,
                i.code_hash,
                i.created_at,
                i.expires_at,
                i.max_uses,
                i.email,
                i.domain,
                Jsonb(dict(i.claims)),
                i.note,
            )
            for i in invites
        ]

        def insert(conn: Conn, _: _Attempt) -> None:
            conn.execute(f"SET LOCAL statement_timeout = '{_MIGRATION_TIMEOUT}'")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO invites (id, code_hash, created_at, expires_at, max_uses, "
                    "email, domain, claims, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

        self._ensure_schema()
        self._run(insert, _MIGRATION_WAIT_S, transaction=True)

    def list_invites(self) -> list[InviteRow]:
        self._ensure_schema()
        rows = self._run(
            lambda conn, _: conn.execute(
                "SELECT id, created_at, expires_at, max_uses, uses, revoked_at, email, domain, "
                "claims, note FROM invites ORDER BY created_at, id"
            ).fetchall(),
            _MIGRATION_WAIT_S,
        )
        return [_row(r) for r in rows]

    def revoke_invite(self, invite_id: str, now: datetime) -> RevokeResult:
        def revoke(conn: Conn, _: _Attempt) -> RevokeResult:
            found = conn.execute(
                "SELECT revoked_at FROM invites WHERE id = %s FOR UPDATE", (invite_id,)
            ).fetchone()
            if found is None:
                return RevokeResult.UNKNOWN
            if found[0] is not None:
                return RevokeResult.ALREADY
            conn.execute("UPDATE invites SET revoked_at = %s WHERE id = %s", (now, invite_id))
            return RevokeResult.REVOKED

        self._ensure_schema()
        return self._run(revoke, _MIGRATION_WAIT_S, transaction=True)

    def redeem(self, code_hash: str, claimant: Claimant, now: datetime) -> Redemption:
        """Two statements, no explicit transaction: a read, then one atomic write."""
        self._ensure_schema()
        params = {"hash": code_hash, "redeemer": claimant.redeemer, "now": now}

        def work(conn: Conn, attempt: _Attempt) -> Redemption:
            # Unknown, revoked, expired, bound and replayed codes are answered by this read
            # alone: guessing traffic takes no lock and writes nothing.
            row = conn.execute(_READ, params).fetchone()
            if row is None:
                return Redemption(Outcome.UNKNOWN)
            invite = _row(row)
            outcome = judge(invite, bool(row[10]), claimant, now)
            if outcome is Outcome.REDEEMED:
                attempt.writing = True
                try:
                    taken = conn.execute(_TAKE_USE, {**params, "id": invite.id}).fetchone()
                except psycopg.errors.UniqueViolation:
                    taken, outcome = None, Outcome.REPLAYED  # the same redeemer, concurrently
                if taken is None and outcome is Outcome.REDEEMED:
                    # Lost a race (used up, revoked or expired meanwhile): read again for why.
                    outcome = _settle(conn.execute(_READ, params).fetchone(), claimant, now)
            return Redemption(outcome, invite.id, invite.claims if outcome.ok else {})

        return self._run(work)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close(timeout=1.0)


def _why(exc: Exception | None) -> str:
    """The driver's message on one line (it may carry CONTEXT and DETAIL lines)."""
    return " ".join(str(exc).split())


def _settle(row: Sequence[Any] | None, claimant: Claimant, now: datetime) -> Outcome:
    """Why a use could not be taken, from a fresh read."""
    outcome = Outcome.UNKNOWN if row is None else judge(_row(row), bool(row[10]), claimant, now)
    if outcome is Outcome.REDEEMED:  # cannot happen: uses only grow, revocation is final
        raise StoreError("invitation changed while being redeemed; try again")
    return outcome


def _row(r: Sequence[Any]) -> InviteRow:
    return InviteRow(
        id=r[0],
        created_at=r[1],
        expires_at=r[2],
        max_uses=r[3],
        uses=r[4],
        revoked_at=r[5],
        email=r[6],
        domain=r[7],
        claims=dict(r[8] or {}),
        note=r[9],
    )
