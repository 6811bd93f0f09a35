"""PostgreSQL store: the SQL, for several instances sharing one database.

Concurrency: a redemption is a plain read, then one statement that takes a use (guarded by
`uses < max_uses`) and records the redeemer; PostgreSQL serialises takers of one code on
its row, across every worker and instance, and different codes run in parallel.
Connections, deadlines and retries: app/store/pg_pool.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.config.model import StoreConfig
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
from app.store.pg_pool import Attempt, Conn, Database

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


class PostgresStore:
    backend = "postgresql"

    def __init__(self, config: StoreConfig) -> None:
        self.db = Database(config)
        self.url = config.url
        self.location = self.db.location
        self._migrated = False

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self._migrate(None)

    # -- Store interface -------------------------------------------------------------

    def migrate(self) -> MigrationReport:
        return self._migrate(_MIGRATION_WAIT_S)

    def _migrate(self, wait_s: float | None) -> MigrationReport:
        def run(conn: Conn, _: Attempt) -> tuple[dict[int, str], list[schema.Migration]]:
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

        applied, todo = self.db.run(run, wait_s, transaction=True)
        self._migrated = True
        version = max([*applied, *(m.version for m in todo)], default=0)
        return MigrationReport(self.backend, self.location, version, tuple(m.version for m in todo))

    def ping(self) -> dict[str, Any]:
        self._ensure_schema()
        row = self.db.run(
            lambda conn, _: conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        )
        stats = self.db.stats()
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

        def insert(conn: Conn, _: Attempt) -> None:
            conn.execute(f"SET LOCAL statement_timeout = '{_MIGRATION_TIMEOUT}'")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO invites (id, code_hash, created_at, expires_at, max_uses, "
                    "email, domain, claims, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )

        self._ensure_schema()
        self.db.run(insert, _MIGRATION_WAIT_S, transaction=True)

    def list_invites(self) -> list[InviteRow]:
        def read(conn: Conn, _: Attempt) -> list[Any]:
            conn.execute(f"SET LOCAL statement_timeout = '{_MIGRATION_TIMEOUT}'")  # operator's
            return conn.execute(
                "SELECT id, created_at, expires_at, max_uses, uses, revoked_at, email, domain, "
                "claims, note FROM invites ORDER BY created_at, id"
            ).fetchall()

        self._ensure_schema()
        return [_row(r) for r in self.db.run(read, _MIGRATION_WAIT_S, transaction=True)]

    def revoke_invite(self, invite_id: str, now: datetime) -> RevokeResult:
        def revoke(conn: Conn, _: Attempt) -> RevokeResult:
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
        return self.db.run(revoke, _MIGRATION_WAIT_S, transaction=True)

    def redeem(self, code_hash: str, claimant: Claimant, now: datetime) -> Redemption:
        """Two statements, no explicit transaction: a read, then one atomic write."""
        self._ensure_schema()
        params = {"hash": code_hash, "redeemer": claimant.redeemer, "now": now}

        def work(conn: Conn, attempt: Attempt) -> Redemption:
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
                except psycopg.errors.UniqueViolation as exc:
                    if exc.diag.constraint_name != "invite_redemptions_pkey":
                        raise
                    taken, outcome = None, Outcome.REPLAYED  # the same redeemer, concurrently
                if taken is None and outcome is Outcome.REDEEMED:
                    # Lost a race (used up, revoked or expired meanwhile): read again for why.
                    again = conn.execute(_READ, params).fetchone()
                    outcome = settle(*_fresh(again), claimant, now)
            return Redemption(outcome, invite.id, invite.claims if outcome.ok else {})

        return self.db.run(work)

    def close(self) -> None:
        self.db.close()


def _fresh(row: Sequence[Any] | None) -> tuple[InviteRow | None, bool]:
    return (None, False) if row is None else (_row(row), bool(row[10]))


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
