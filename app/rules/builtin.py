"""The store-free rules: email domains, identity providers, attributes, claim enrichment.

Each check runs at a step it applies to; app/rules/engine.py picks the checks per step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.config.model import AttributeRule, ClaimRule, Config
from app.contract.model import SignupRequest, Value
from app.decision import Decision
from app.rules.common import text


def check_email_domain(request: SignupRequest, config: Config) -> Decision | None:
    """The email-domain rule at a step it applies to."""
    rule = config.rules.email_domains
    domain = request.email_domain
    if domain is None:
        if rule.require_email:
            return Decision.block("email_domains.missing", text("email_required", request, config))
        return None
    if rule.deny.match(domain, rule.include_subdomains) is not None:
        return Decision.block(
            "email_domains.deny", text("email_domain_blocked", request, config, rule.message)
        )
    if len(rule.allow) and rule.allow.match(domain, rule.include_subdomains) is None:
        return Decision.block(
            "email_domains.allow", text("email_domain_blocked", request, config, rule.message)
        )
    return None


def check_identity_provider(request: SignupRequest, config: Config) -> Decision | None:
    """The identity-provider rule at a step it applies to."""
    rule = config.rules.identity_providers
    provider = request.identity_provider
    if provider is not None and provider in rule.deny:
        return Decision.block(
            "identity_providers.deny",
            text("identity_provider_blocked", request, config, rule.message),
        )
    if rule.allow and (provider is None or provider not in rule.allow):
        return Decision.block(
            "identity_providers.allow",
            text("identity_provider_blocked", request, config, rule.message),
        )
    return None


def attribute_problem(rule: AttributeRule, value: Value | None) -> str | None:
    """Why the value breaks the rule, or None; the reason is for the log, not the user."""
    if isinstance(value, str):
        if not value.strip():
            return "missing" if rule.required else None
        raw = value
    elif value is None:
        return "missing" if rule.required else None
    elif isinstance(value, bool):
        raw = "true" if value else "false"
    else:
        raw = str(value)
    if rule.min_length is not None and len(raw) < rule.min_length:
        return "too short"
    if rule.max_length is not None and len(raw) > rule.max_length:
        return "too long"
    if rule.allowed is not None and raw not in rule.allowed:
        return "not an allowed value"
    if rule.pattern is not None:
        regex = rule.regex or re.compile(rule.pattern)
        if regex.fullmatch(raw) is None:
            return "does not match the pattern"
    return None


def check_attribute(rule: AttributeRule, request: SignupRequest, config: Config) -> Decision | None:
    """One attribute rule at a step it applies to."""
    problem = attribute_problem(rule, request.attributes.get(rule.name))
    if problem is None:
        return None
    message = text("attribute_invalid", request, config, rule.message)
    return Decision.invalid(
        f"attributes.{rule.name}.{problem.replace(' ', '_')}", message, {rule.name: message}
    )


def enrich(rules: Iterable[ClaimRule], request: SignupRequest) -> dict[str, Value]:
    """Claims to set (when absent) or override on Continue, from the rules of the step."""
    claims: dict[str, Value] = {}
    for rule in rules:
        if rule.when_email_domains:
            domain = request.email_domain or ""
            if not any(domain == d or domain.endswith("." + d) for d in rule.when_email_domains):
                continue
        if rule.override or rule.name not in request.attributes:
            claims[rule.name] = rule.value
    return claims
