"""Helpers for the store tests: both back ends, an isolated database each, invites by hand.

PostgreSQL tests run when CONNECTOR_TEST_POSTGRES_URL is set (scripts/postgres.sh start
prints one; .ci/run always sets it) and skip, saying so, only when it is not. Each test gets
its own schema on that server, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config.model import StoreConfig
from app.invites import codes
from app.store import open_store
from app.store.model import Claimant, NewInvite, Store

KEY = "test-invitation-hash-key-0123456789abcdef"
PG_ENV = "CONNECTOR_TEST_POSTGRES_URL"
PG_URL = os.environ.get(PG_ENV, "")

needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason=f"{PG_ENV} is not set (export it from `scripts/postgres.sh start`)"
    ),
]
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=needs_postgres),
]


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A store URL nobody else uses: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def make_store(url: str, timeout_ms: int = 500, pool_size: int = 4) -> Store:
    return open_store(StoreConfig(url=url, statement_timeout_ms=timeout_ms, pool_size=pool_size))


@contextmanager
def store_for(kind: str, tmp_path: Path, **kw: Any) -> Iterator[Store]:
    with database(kind, tmp_path) as url:
        store = make_store(url, **kw)
        store.migrate()
        try:
            yield store
        finally:
            store.close()


def add_invite(
    store: Store,
    max_uses: int = 1,
    expires_at: datetime | None = None,
    email: str | None = None,
    domain: str | None = None,
    claims: dict[str, str | bool | int] | None = None,
    key: str = KEY,
) -> tuple[str, str]:
    """Store a new invite; return (id, code as shown to the user)."""
    code = codes.generate()
    invite_id = secrets.token_hex(8)
    store.create_invites(
        [
            NewInvite(
                id=invite_id,
                code_hash=codes.code_hash(key, codes.normalise(code) or ""),
                created_at=datetime.now(UTC) - timedelta(seconds=1),
                expires_at=expires_at,
                max_uses=max_uses,
                email=email,
                domain=domain,
                claims=claims or {},
            )
        ]
    )
    return invite_id, code


def hashed(code: str, key: str = KEY) -> str:
    return codes.code_hash(key, codes.normalise(code) or "")


def person(email: str) -> Claimant:
    normalised = codes.normalise_email(email)
    return Claimant(
        codes.redeemer_hash(KEY, f"email:{normalised}"), normalised, normalised.split("@")[1]
    )
