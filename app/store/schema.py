"""Versioned SQL migrations: app/store/sql/<backend>/NNNN_name.sql, applied in order, once.

Each applied migration is recorded with the SHA-256 of its text, so a file edited after it
ran, or a database migrated by newer code, is refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.errors import StoreError

SQL_DIR = Path(__file__).resolve().parent / "sql"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Both back ends serialise migrations under this key (PostgreSQL advisory lock).
LOCK_KEY = 0x1E7A_C0DE


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


@cache
def migrations(backend: str) -> tuple[Migration, ...]:
    """The known migrations of a back end, numbered 1, 2, ... without gaps."""
    found = []
    for path in sorted((SQL_DIR / backend).glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise StoreError(f"migration file name: expected NNNN_name.sql, got {path.name!r}")
        sql = path.read_text(encoding="utf-8")
        found.append(
            Migration(int(m.group(1)), m.group(2), sql, hashlib.sha256(sql.encode()).hexdigest())
        )
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(
                f"{backend} migrations: expected version {expected}, got {migration.version}"
            )
    return tuple(found)


def pending(backend: str, applied: Mapping[int, str]) -> list[Migration]:
    """What is left to apply, given {version: checksum} already recorded in the database."""
    known = migrations(backend)
    newest = max(applied, default=0)
    if newest > len(known):
        raise StoreError(
            f"store schema is at version {newest}, newer than this code knows "
            f"({len(known)}): upgrade the code or restore the database"
        )
    for migration in known:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise StoreError(
                f"migration {migration.version} ({migration.name}) was changed after it was "
                "applied: add a new migration instead of editing an applied one"
            )
    return [m for m in known if m.version not in applied]


def statements(sql: str) -> list[str]:
    """Split a script into statements (sqlite3 runs one at a time inside a transaction)."""
    out: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if _has_code(buffer):
                out.append(buffer.strip())
            buffer = ""
    if _has_code(buffer):
        raise StoreError(f"migration ends inside a statement: {buffer.strip()[:60]!r}")
    return out


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())
