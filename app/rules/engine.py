"""Evaluate the rules in order; the first failure decides, else Continue with enrichment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.config.model import Config
from app.contract.model import SignupRequest, Value
from app.decision import Decision
from app.rules import builtin


class InvitationChecker(Protocol):
    """The store-backed invitation rule (app/rules/invitations.py)."""

    def __call__(
        self, request: SignupRequest, config: Config, claims: dict[str, Value]
    ) -> Decision | None: ...


Rule = Callable[[SignupRequest, Config], Decision | None]
ORDER: tuple[Rule, ...] = (builtin.email_domains, builtin.identity_providers, builtin.attributes)


def evaluate(
    request: SignupRequest, config: Config, invitations: InvitationChecker | None = None
) -> Decision:
    """Pure in the request and configuration; the invitation rule alone touches the store."""
    for rule in ORDER:
        decision = rule(request, config)
        if decision is not None:
            return decision
    claims = builtin.enrichment(request, config)
    if invitations is not None:
        decision = invitations(request, config, claims)
        if decision is not None:
            return decision
    return Decision.proceed(claims)
