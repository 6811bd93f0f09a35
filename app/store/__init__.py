"""The service's store: invitation codes in SQLite (default) or PostgreSQL (scale-out)."""

from __future__ import annotations

from app.config.model import StoreConfig
from app.errors import StoreError
from app.store.model import Store


def open_store(config: StoreConfig) -> Store:
    """A store for `[store] url`; nothing is connected until it is first used."""
    if config.url.startswith("sqlite:///"):
        from app.store.sqlite import SqliteStore

        return SqliteStore(config)
    if config.url.startswith(("postgresql://", "postgres://")):
        from app.store.postgres import PostgresStore

        return PostgresStore(config)
    raise StoreError(f"store url: expected sqlite:///PATH or postgresql://..., got {config.url!r}")


def location(store: Store) -> str:
    """Where the store is, for people: a path or a URL without its password."""
    return str(getattr(store, "location", None) or getattr(store, "path", store.backend))


__all__ = ["Store", "StoreError", "location", "open_store"]
