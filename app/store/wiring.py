"""Attach the store to a running app: open it, migrate, enable the rule, report readiness."""

from __future__ import annotations

import atexit
import logging
from typing import Any

from app.errors import StoreError
from app.logs import event
from app.services import ReadinessCheck, Services
from app.store import open_store
from app.store.model import Store


def attach(services: Services) -> None:
    """Runs in every gunicorn worker (no preload), so each worker has its own connections."""
    config = services.config
    store = open_store(config.store)
    services.store = store
    atexit.register(store.close)
    in_use = config.rules.invitations.enabled
    if in_use:
        from app.rules.invitations import InvitationRuleChecker

        services.invitations = InvitationRuleChecker(store)
        try:
            report = store.migrate()
            event(logging.INFO, "store.ready", backend=store.backend, schema=report.version)
        except StoreError as exc:
            # Not fatal: requests fail closed and the store migrates on first success.
            event(logging.ERROR, "store.unavailable", backend=store.backend, error=str(exc))
    services.readiness["store"] = readiness(store, in_use)


def readiness(store: Store, in_use: bool) -> ReadinessCheck:
    """Ready when the store answers; a store no rule uses never holds the service back."""

    def check() -> tuple[bool, dict[str, Any]]:
        if not in_use:
            return True, {"backend": store.backend, "in_use": False}
        try:
            return True, {**store.ping(), "in_use": True}
        except StoreError as exc:
            event(logging.ERROR, "store.unavailable", backend=store.backend, error=str(exc))
            return False, {"backend": store.backend, "in_use": True, "error": "unavailable"}

    return check
