"""SQLite store: one file, WAL mode, safe across gunicorn workers on one machine.

Concurrency: each thread has its own connection (gthread workers serve requests on
threads). A redemption is a plain read, then, in the process's write turn
(app/store/sqlite_writers.py), one INSERT that records the redeemer if a use is left and,
by trigger, takes the use: a single C call while the turn is held. Every operation has a
deadline of statement_timeout_ms: waiting (queue, busy timeout) and running (progress
handler).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

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
    settle,
)
from app.store.sqlite_writers import WriterQueue

T = TypeVar("T")
# The invite and whether this redeemer already redeemed it, in one consistent read.
_READ = (
    "SELECT i.id, i.created_at, i.expires_at, i.max_uses, i.uses, i.revoked_at, i.email, "
    "i.domain, i.claims, i.note, EXISTS (SELECT 1 FROM invite_redemptions r "
    "WHERE r.invite_id = i.id AND r.redeemer = ?) FROM invites i WHERE i.code_hash = ?"
)
# One statement, so one atomic step: record the redeemer if a use is left (the schema's
# trigger takes the use). A second row for the same redeemer violates the key and the
# whole statement, the use included, is undone.
_TAKE_USE = (
    "INSERT INTO invite_redemptions (invite_id, redeemer, redeemed_at) "
    "SELECT id, ?, ? FROM invites WHERE id = ? AND uses < max_uses "
    "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
)
# Checkpoint the WAL outside the write turn every this many writes of a process, so the
# automatic checkpoint (which would run inside a writer's turn) rarely has work to do.
_CHECKPOINT_EVERY = 200
# Migrations may rewrite tables: give them longer than a request gets.
_MIGRATION_TIMEOUT_S = 30.0


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` (from the working directory) or `sqlite:////absolute.db`."""
    path = url.removeprefix("sqlite:///")
    if not path or path == url or "?" in path or path == ":memory:":
        raise StoreError(f"store url: expected sqlite:///PATH to a file, got {url!r}")
    return Path(path)


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _time(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class SqliteStore:
    backend = "sqlite"

    def __init__(self, config: StoreConfig) -> None:
        self.path = sqlite_path(config.url)
        self.timeout_s = config.statement_timeout_ms / 1000
        self._local = threading.local()
        self._lock = threading.Lock()
        self._writers = WriterQueue(self.path)
        self._writes = 0
        self._all: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._migrated = False

    # -- connections ---------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours
            self._local, self._all, self._pid = threading.local(), [], os.getpid()
            self._lock = threading.Lock()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn, self._local.busy_ms = conn, None
            with self._lock:
                self._all.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Bound email addresses live here: readable by the service's user only.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against process crashes in WAL mode; see docs/invitations.md.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _session(self, timeout_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A connection whose statements give up at the deadline; errors become StoreError."""
        budget = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        try:
            conn = self._connection()
            busy_ms = int(budget * 1000)
            if getattr(self._local, "busy_ms", None) != busy_ms:
                conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
                self._local.busy_ms = busy_ms
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            try:
                yield conn
            finally:
                conn.set_progress_handler(None, 0)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._discard()  # the next operation starts from a fresh connection
            raise StoreError(
                f"sqlite store {self.path}: {exc} (deadline {budget * 1000:.0f} ms)"
            ) from exc

    def _discard(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()

    def _write(
        self,
        work: Callable[[sqlite3.Connection], T],
        timeout_s: float | None = None,
        transaction: bool = True,
    ) -> T:
        """Run `work` in its write turn; in one BEGIN IMMEDIATE transaction if asked."""
        self._ensure_schema()
        budget = self.timeout_s if timeout_s is None else timeout_s
        with self._writers.turn(budget), self._session(timeout_s) as conn:
            if transaction:
                conn.execute("BEGIN IMMEDIATE")
            result = work(conn)
            if conn.in_transaction:  # `work` may have rolled back on purpose
                conn.execute("COMMIT")
        self._writes += 1
        if self._writes % _CHECKPOINT_EVERY == 0:
            self._checkpoint()
        return result

    def _checkpoint(self) -> None:
        try:
            with self._session() as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except StoreError:
            pass  # a later one (or SQLite's automatic one) will do it

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self.migrate()

    # -- Store interface -------------------------------------------------------------

    def migrate(self) -> MigrationReport:
        with self._writers.turn(_MIGRATION_TIMEOUT_S), self._session(_MIGRATION_TIMEOUT_S) as conn:
            conn.execute("BEGIN IMMEDIATE")  # serialises workers migrating at start-up
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations"))
            todo = schema.pending(self.backend, applied)
            for migration in todo:
                for statement in schema.statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, migration.checksum, int(time.time())),
                )
            conn.execute("COMMIT")
        self._migrated = True
        version = max([*applied, *(m.version for m in todo)], default=0)
        return MigrationReport(
            self.backend, str(self.path), version, tuple(m.version for m in todo)
        )

    def ping(self) -> dict[str, Any]:
        self._ensure_schema()
        with self._session() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return {"backend": self.backend, "schema_version": row[0]}

    def create_invites(self, invites: Sequence[NewInvite]) -> None:
        rows = [
            (
                i.id,
                i.code_hash,
                _epoch(i.created_at),
                _epoch(i.expires_at),
                i.max_uses,
                i.email,
                i.domain,
                json.dumps(dict(i.claims)),
                i.note,
            )
            for i in invites
        ]

        def insert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO invites (id, code_hash, created_at, expires_at, max_uses, email, "
                "domain, claims, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

        # Bulk creation is an operator's command, not a request: allow it time.
        self._write(insert, timeout_s=max(self.timeout_s, _MIGRATION_TIMEOUT_S))

    def list_invites(self) -> list[InviteRow]:
        self._ensure_schema()
        with self._session(_MIGRATION_TIMEOUT_S) as conn:
            rows = conn.execute(
                "SELECT id, created_at, expires_at, max_uses, uses, revoked_at, email, domain, "
                "claims, note FROM invites ORDER BY created_at, id"
            ).fetchall()
        return [_row(r) for r in rows]

    def revoke_invite(self, invite_id: str, now: datetime) -> RevokeResult:
        def revoke(conn: sqlite3.Connection) -> RevokeResult:
            row = conn.execute("SELECT revoked_at FROM invites WHERE id = ?", (invite_id,))
            found = row.fetchone()
            if found is None:
                return RevokeResult.UNKNOWN
            if found[0] is not None:
                return RevokeResult.ALREADY
            conn.execute("UPDATE invites SET revoked_at = ? WHERE id = ?", (_epoch(now), invite_id))
            return RevokeResult.REVOKED

        return self._write(revoke)

    def redeem(self, code_hash: str, claimant: Claimant, now: datetime) -> Redemption:
        self._ensure_schema()
        # Unknown, revoked, expired, bound and replayed codes are answered by this read
        # alone: guessing traffic never queues for (or holds) the write lock.
        row = self._read(code_hash, claimant)
        if row is None:
            return Redemption(Outcome.UNKNOWN)
        invite, replay = _row(row), bool(row[10])
        outcome = judge(invite, replay, claimant, now)
        if outcome is Outcome.REDEEMED:
            taken = self._write(
                lambda conn: _take_use(conn, invite.id, claimant, now), transaction=False
            )
            # None: lost a race (used up, revoked or expired meanwhile): read again for why.
            if taken is None:
                again = self._read(code_hash, claimant)
                taken = settle(*_fresh(again), claimant, now)
            outcome = taken
        return Redemption(outcome, invite.id, invite.claims if outcome.ok else {})

    def _read(self, code_hash: str, claimant: Claimant) -> Sequence[Any] | None:
        with self._session() as conn:
            row: Sequence[Any] | None = conn.execute(
                _READ, (claimant.redeemer, code_hash)
            ).fetchone()
        return row

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        self._writers.close()


def _take_use(
    conn: sqlite3.Connection, invite_id: str, claimant: Claimant, now: datetime
) -> Outcome | None:
    """One statement (autocommit, in the write turn); None when no use was left to take."""
    at = _epoch(now)
    try:
        cursor = conn.execute(_TAKE_USE, (claimant.redeemer, at, invite_id, at))
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname != "SQLITE_CONSTRAINT_PRIMARYKEY":
            raise  # any other constraint is a failure, never a success
        return Outcome.REPLAYED  # the same redeemer got there first
    return Outcome.REDEEMED if cursor.rowcount == 1 else None


def _fresh(row: Sequence[Any] | None) -> tuple[InviteRow | None, bool]:
    return (None, False) if row is None else (_row(row), bool(row[10]))


def _row(r: Sequence[Any]) -> InviteRow:
    return InviteRow(
        id=r[0],
        created_at=datetime.fromtimestamp(r[1], UTC),
        expires_at=_time(r[2]),
        max_uses=r[3],
        uses=r[4],
        revoked_at=_time(r[5]),
        email=r[6],
        domain=r[7],
        claims=json.loads(r[8]),
        note=r[9],
    )
