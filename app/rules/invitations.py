"""The invitation rule: redeem the code the user typed, once per use, atomically in the store.

Checklist:
 (1) only at the rule's steps; no code fails only when a code is required;
 (2) reject what cannot be a code (length, ASCII, alphabet) before touching the store;
 (3) look codes up by keyed hash only: the code is never stored, logged or echoed;
 (4) one atomic store operation per redemption; a store failure propagates as StoreError,
     which the pipeline answers "try again" (fail closed, nothing half-recorded);
 (5) the same redeemer again (Entra's retry) succeeds without using another use;
 (6) claims granted by the invite are returned, and the code is blanked when configured.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from app.config.model import Config, InvitationRule
from app.contract.model import SignupRequest, Value
from app.decision import Decision
from app.errors import ConfigError, RequestError
from app.invites import codes
from app.rules.common import applies, text
from app.store.model import Claimant, Outcome, Store

# Outcome -> (message key, rule name in the decision log).
_FAILURES = {
    Outcome.UNKNOWN: ("invitation_invalid", "invitations.invalid"),
    Outcome.EXPIRED: ("invitation_expired", "invitations.expired"),
    Outcome.USED_UP: ("invitation_used", "invitations.used"),
    Outcome.REVOKED: ("invitation_revoked", "invitations.revoked"),
    Outcome.BOUND: ("invitation_bound", "invitations.bound"),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def claimant(request: SignupRequest, key: str) -> Claimant:
    """Who redeems: the normalised email, else the first identity, else nobody in particular."""
    email = None
    if request.email:
        try:
            email = codes.normalise_email(request.email)
        except RequestError:
            email = None
    if email is not None:
        identity = f"email:{email}"
    elif request.identities:
        first = request.identities[0]
        identity = f"identity:{first.issuer}:{first.issuer_assigned_id}"
    else:
        # Nothing to recognise a retry by: every attempt is a new redeemer (uses a use).
        identity = f"anonymous:{secrets.token_hex(16)}"
    domain = email.rpartition("@")[2] if email else None
    return Claimant(codes.redeemer_hash(key, identity), email, domain)


class InvitationRuleChecker:
    """An `InvitationChecker` bound to a store (see app/rules/engine.py)."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def __call__(
        self, request: SignupRequest, config: Config, claims: dict[str, Value]
    ) -> Decision | None:
        rule = config.rules.invitations
        if not rule.enabled or not applies(rule.steps, request.step):  # (1)
            return None
        raw = request.attributes.get(rule.attribute)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if rule.required:
                return _fail(rule, "invitation_required", "invitations.required", request, config)
            return None
        code = codes.normalise(raw) if isinstance(raw, str) else None  # (2)
        if code is None:
            return _fail(rule, "invitation_invalid", "invitations.malformed", request, config)
        if rule.hash_key is None:
            raise ConfigError("rules.invitations: enabled without a hash key")
        key = rule.hash_key.reveal()
        who = claimant(request, key)
        redemption = self.store.redeem(codes.code_hash(key, code), who, self.clock())  # (3)(4)
        if not redemption.outcome.ok:  # (5): REPLAYED is ok
            message_key, rule_name = _FAILURES[redemption.outcome]
            return _fail(rule, message_key, rule_name, request, config)
        claims.update(redemption.claims)  # (6)
        if rule.clear_on_continue:
            claims[rule.attribute] = ""
        return None


def _fail(
    rule: InvitationRule, key: str, name: str, request: SignupRequest, config: Config
) -> Decision:
    message = text(key, request, config, rule.message)
    return Decision.invalid(name, message, {rule.attribute: message})
