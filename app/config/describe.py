"""The effective configuration as plain data, with every secret redacted."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.config.model import Config, Secret
from app.rules.domains import DomainSet
from app.store import redacted_url


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, DomainSet):
        return f"<{len(value)} domains>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # repr=False marks derived fields (compiled patterns): nothing the operator wrote.
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, frozenset | set) else items
    return value


def describe(config: Config) -> dict[str, Any]:
    data: dict[str, Any] = _plain(config)
    data["store"]["url"] = redacted_url(config.store.url)
    # A password hash is not a secret in itself, but nothing gains from printing it.
    for cred in data["auth"]["basic"]["credentials"]:
        if cred.get("password_hash"):
            cred["password_hash"] = cred["password_hash"].split("$", 1)[0] + "$***"
    return data
