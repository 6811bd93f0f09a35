"""One request through the service: authenticate -> read -> parse -> rules -> respond -> log.

Checklist (fail closed):
 (1) authenticate from headers, peer and TLS socket only; 401/403 problem body, reason logged;
 (2) refuse a body over the limit before reading it (413, blocking contract answer);
 (3) parse strictly; anything unusable is a blocking contract answer, never Continue;
 (4) only the rules can produce Continue;
 (5) any other failure answers "try again" (ValidationError where allowed, else block);
 (6) one structured log line per decision, without secrets or full email addresses.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from app.auth.principal import Principal
from app.contract.model import SignupRequest, Step
from app.decision import Action, Decision
from app.errors import (
    AuthenticationError,
    CertificateError,
    PayloadTooLarge,
    RequestError,
    StoreError,
)
from app.logs import decision as decision_line
from app.logs import event, mask_email
from app.rules.messages import message_for
from app.services import Services
from app.web.problem import problem

Answer = tuple[int, dict[str, object]]
# Answers are flat maps built here: no cycles to look for.
_BODY_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False)


@dataclass(frozen=True)
class ContractAdapter:
    family: str  # "api_connector" | "authentication_extension"
    parse: Callable[[bytes, Step | None], SignupRequest]
    render: Callable[[Decision, Step, SignupRequest | None, Services], Answer]
    effective_action: Callable[[Decision, Step], Action]


# Correlation ids need to be unique, not secret: a per-process generator seeded from the OS
# saves a getrandom syscall on every request. Re-seeded after fork (gunicorn workers).
_ids = random.Random(secrets.randbits(128))  # noqa: S311 - ids, not secrets
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def _correlation_id() -> str:
    return f"{_ids.getrandbits(64):016x}"


def services() -> Services:
    s: Services = current_app.extensions["connector"]
    return s


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        try:
            size = int(length)
        except ValueError as exc:
            raise RequestError("invalid Content-Length") from exc
        if size > limit:  # (2)
            raise PayloadTooLarge(f"body of {size} bytes exceeds {limit}")
        data: bytes = stream.read(size)
        return data
    if environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING"):
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"chunked body exceeds {limit}")
        return data
    return b""


def _check_content_type(environ: dict[str, Any]) -> None:
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type == "application/json":
        return  # what Entra sends: skip the parsing below
    mimetype = content_type.split(";", 1)[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise RequestError(f"expected Content-Type application/json, got {mimetype[:60]!r}")


def serve(adapter: ContractAdapter, url_step: Step | None) -> Response:
    started = time.perf_counter()
    svc = services()
    config = svc.config
    environ = request.environ
    correlation_id = _correlation_id()
    try:
        principal = svc.authenticator.authenticate(environ, adapter.family)  # (1)
    except (AuthenticationError, CertificateError) as exc:
        status = exc.status
        event(
            logging.WARNING,
            "auth.rejected",
            correlation_id=correlation_id,
            family=adapter.family,
            status=status,
            reason=str(exc),
            peer=request.remote_addr,
            path=request.path,
        )
        headers = (
            {"WWW-Authenticate": svc.authenticator.challenge_for(adapter.family)}
            if status == 401
            else None
        )
        resp = problem(status, headers)
        resp.headers["X-Correlation-Id"] = correlation_id
        return resp

    step = url_step or Step.UNKNOWN
    parsed: SignupRequest | None = None
    reason = None
    status_override = None
    try:
        body = _read_body(environ, config.limits.max_body_bytes)
        _check_content_type(environ)
        parsed = adapter.parse(body, url_step)  # (3)
        step = parsed.step
        decision = svc.rules.evaluate(parsed, svc.invitations)  # (4)
    except PayloadTooLarge as exc:
        reason = str(exc)
        status_override = 413
        decision = Decision.block("request.too_large", _text("invalid_request", None, svc))
    except RequestError as exc:
        reason = str(exc)
        decision = Decision.block("request.invalid", _text("invalid_request", None, svc))
    except StoreError as exc:  # (5)
        reason = str(exc)
        decision = _try_again("store.unavailable", parsed, svc)
        event(logging.ERROR, "store.error", correlation_id=correlation_id, error=reason)
    except Exception:
        reason = "internal error"
        decision = _try_again("internal.error", parsed, svc)
        logging.getLogger("connector").error(
            "internal.error", exc_info=True, extra={"fields": {"correlation_id": correlation_id}}
        )

    status, body_out = adapter.render(decision, step, parsed, svc)
    if status_override is not None:
        status = status_override
    action = adapter.effective_action(decision, step)
    _log_decision(
        correlation_id, adapter, step, action, decision, principal, parsed, status, reason, started
    )  # (6)
    resp = Response(_BODY_ENCODER.encode(body_out), status, content_type="application/json")
    resp.headers["X-Correlation-Id"] = correlation_id
    return resp


def _text(key: str, parsed: SignupRequest | None, svc: Services) -> str:
    m = svc.config.messages
    return message_for(key, parsed.locale if parsed else None, m.catalogue, m.fallback_language)


def _try_again(rule: str, parsed: SignupRequest | None, svc: Services) -> Decision:
    return dataclasses.replace(
        Decision.invalid(rule, _text("try_again", parsed, svc)), retryable=True
    )


def _log_decision(
    correlation_id: str,
    adapter: ContractAdapter,
    step: Step,
    action: Action,
    decision: Decision,
    principal: Principal,
    parsed: SignupRequest | None,
    status: int,
    reason: str | None,
    started: float,
) -> None:
    head = (
        correlation_id,
        adapter.family,
        step._value_,  # the plain attribute: `.value` is a property, and this runs per call
        action._value_,
        decision.rule,
        status,
        principal.method,
        principal.subject,
        (time.perf_counter() - started) * 1000,
    )
    extra: dict[str, Any] = {}
    if principal.thumbprint:
        extra["cert_thumbprint"] = principal.thumbprint
        extra["cert_days_left"] = principal.days_left
    if parsed is not None and parsed.email:
        extra["email"] = mask_email(parsed.email)
    if reason:
        extra["reason"] = reason
    decision_line(head, extra)
