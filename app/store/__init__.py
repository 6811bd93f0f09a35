"""The service's store: invitation codes in SQLite (default) or PostgreSQL (scale-out)."""

from __future__ import annotations

import re

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
    raise StoreError(
        f"store url: expected sqlite:///PATH or postgresql://..., got {redacted_url(config.url)!r}"
    )


def redacted_url(url: str) -> str:
    """The store URL with any password replaced by ***, for printing configuration."""
    url = re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", url)
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


__all__ = ["Store", "StoreError", "open_store", "redacted_url"]
