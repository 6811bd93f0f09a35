"""Evaluate the rules in order; the first failure decides, else Continue with enrichment.

``RuleSet`` compiles the configuration once into, for each step, the checks that apply
to it, so a request runs only what can decide it. ``evaluate`` does the same for a bare
Config (tools and tests), compiling on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple, Protocol

from app.config.model import ClaimRule, Config
from app.contract.model import SignupRequest, Step, Value
from app.decision import Decision
from app.rules import builtin
from app.rules.common import applies


class InvitationChecker(Protocol):
    """The store-backed invitation rule (app/rules/invitations.py)."""

    def __call__(
        self, request: SignupRequest, config: Config, claims: dict[str, Value]
    ) -> Decision | None: ...


Check = Callable[[SignupRequest, Config], Decision | None]


class Plan(NamedTuple):
    checks: tuple[Check, ...]  # in order; the first that returns a Decision decides
    claims: tuple[ClaimRule, ...]
    # Continue with these claims for every request, when no claim rule depends on the request
    # (built once: a Decision costs more to build than all the checks together).
    fixed_continue: Decision | None


def plan_for(config: Config, step: Step) -> Plan:
    """The checks (in order) and the claim rules that apply at ``step``."""
    rules = config.rules
    checks: list[Check] = []
    if rules.email_domains.active and applies(rules.email_domains.steps, step):
        checks.append(builtin.check_email_domain)
    if rules.identity_providers.active and applies(rules.identity_providers.steps, step):
        checks.append(builtin.check_identity_provider)
    checks.extend(
        partial(builtin.check_attribute, rule)
        for rule in rules.attributes
        if applies(rule.steps, step)
    )
    claims = tuple(rule for rule in rules.claims if applies(rule.steps, step))
    fixed = None
    if all(rule.override and not rule.when_email_domains for rule in claims):
        fixed = Decision.proceed(builtin.enrich(claims, SignupRequest(step)))
    return Plan(tuple(checks), claims, fixed)


class RuleSet:
    """The configuration's rules, compiled per step once (at start-up)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._plans = {step: plan_for(config, step) for step in Step}

    def evaluate(
        self, request: SignupRequest, invitations: InvitationChecker | None = None
    ) -> Decision:
        """Pure in the request and configuration; the invitation rule alone touches the store."""
        config = self.config
        checks, claim_rules, fixed_continue = self._plans[request.step]
        for check in checks:
            decision = check(request, config)
            if decision is not None:
                return decision
        if fixed_continue is not None and invitations is None:
            return fixed_continue
        claims = builtin.enrich(claim_rules, request)
        if invitations is not None:
            decision = invitations(request, config, claims)
            if decision is not None:
                return decision
        return Decision.proceed(claims)


def evaluate(
    request: SignupRequest, config: Config, invitations: InvitationChecker | None = None
) -> Decision:
    return RuleSet(config).evaluate(request, invitations)
