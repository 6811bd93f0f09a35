"""Liveness and readiness probes: no auth, no secrets, no request data."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from app.logs import event
from app.web.pipeline import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks: dict[str, Any] = {}
    ready = True
    for name, check in services().readiness.items():
        try:
            ok, details = check()
        except Exception:
            event(logging.ERROR, "readiness.error", check=name)
            ok, details = False, {}
        checks[name] = {"ok": ok, **details}
        ready = ready and ok
    return jsonify(status="ready" if ready else "unavailable", checks=checks), (
        200 if ready else 503
    )
