"""The Entra API connector service: application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app import logs
from app.auth import Authenticator
from app.auth import monitor as certificate_monitor
from app.config import Config, load_config
from app.rules.engine import RuleSet
from app.services import Services
from app.store import wiring as store_wiring
from app.web import connector, extension, health, openapi
from app.web.problem import problem


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    """Wire configuration, authentication, rules and blueprints; no logic lives here."""
    logs.configure()
    if config is None:
        config = load_config()
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(overrides)
    services = Services(
        config=config, authenticator=Authenticator(config.auth), rules=RuleSet(config)
    )
    app.extensions["connector"] = services

    certificate_monitor.attach(services)  # expiry warnings, /readyz "certificates"
    store_wiring.attach(services)  # invitation rule, migrations, /readyz "store"
    token_auth = services.authenticator.methods.get("entra_token")
    if token_auth is not None:  # signing keys held, /readyz "entra_token"
        services.readiness["entra_token"] = token_auth.readiness  # type: ignore[attr-defined]

    app.register_blueprint(connector.bp)
    app.register_blueprint(extension.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return problem(exc.code or 500)

    for warning in config.warnings:
        logs.event(logging.WARNING, "config.warning", message=warning)
    logs.event(
        logging.INFO,
        "app.started",
        config=config.source,
        environment=config.environment,
        auth_methods=list(config.auth.methods),
    )
    return app
