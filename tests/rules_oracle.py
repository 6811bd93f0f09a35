"""An independent oracle for the sign-up rules, and random rule sets to compare it with.

The oracle is written from SPEC §4 without the engine's code: plain lists, suffix matching
by labels, no DomainSet, no shared helpers. `spec_to_toml` turns a random `RuleSpec` into
the configuration the real loader parses, so the engine sees exactly what the oracle sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from app.contract.model import SignupRequest, Step

DOMAIN_POOL = ("contoso.com", "mail.contoso.com", "fabrikam.example", "example", "mailinator.com")
ISSUER_POOL = ("google.com", "google", "facebook.com", "Facebook", "mail", "contoso.example")
ATTRIBUTE_NAMES = ("postalCode", "Role", "city", "displayName")
PATTERNS = ("^[0-9]{5}$", "[a-z]+", "(student|teacher)", ".*", "[0-9]*")
STEP_NAMES = ("post-federation-signup", "post-attribute-collection", "pre-token-issuance")
ATTRIBUTE_DEFAULT_STEPS = ("post-attribute-collection", "attribute-collection-submit")


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    required: bool
    pattern: str | None
    min_length: int | None
    max_length: int | None
    allowed: tuple[str, ...] | None
    steps: tuple[str, ...] | None  # None: the loader's default


@dataclass(frozen=True)
class ClaimSpec:
    name: str
    value: str | bool | int
    override: bool
    steps: tuple[str, ...]
    when_email_domains: tuple[str, ...]


@dataclass(frozen=True)
class RuleSpec:
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    include_subdomains: bool
    require_email: bool
    domain_steps: tuple[str, ...]
    idp_allow: tuple[str, ...]
    idp_deny: tuple[str, ...]
    idp_steps: tuple[str, ...]
    attributes: tuple[AttributeSpec, ...]
    claims: tuple[ClaimSpec, ...]


def _issuer(raw: str) -> str:
    value = raw.strip().lower().rstrip(".")
    return {"google.com": "google", "facebook.com": "facebook"}.get(value, value)


def _covers(listed: tuple[str, ...], domain: str, subdomains: bool) -> bool:
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels))] if subdomains else [domain]
    return any(c in listed for c in candidates)


def _runs(steps: tuple[str, ...], step: Step) -> bool:
    return step is Step.UNKNOWN or not steps or step.value in steps


def _attribute_fails(a: AttributeSpec, value: object) -> bool:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return a.required
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return (
        (a.min_length is not None and len(text) < a.min_length)
        or (a.max_length is not None and len(text) > a.max_length)
        or (a.allowed is not None and text not in a.allowed)
        or (a.pattern is not None and re.fullmatch(a.pattern, text) is None)
    )


def first_failure(spec: RuleSpec, request: SignupRequest) -> str | None:
    """The rule (prefix of Decision.rule) that must stop the request, or None."""
    domain = request.email_domain
    if (spec.allow or spec.deny) and _runs(spec.domain_steps, request.step):
        if domain is None:
            if spec.require_email:
                return "email_domains"
        elif _covers(spec.deny, domain, spec.include_subdomains) or (
            spec.allow and not _covers(spec.allow, domain, spec.include_subdomains)
        ):
            return "email_domains"
    if (spec.idp_allow or spec.idp_deny) and _runs(spec.idp_steps, request.step):
        federated = [i.issuer for i in request.identities if i.sign_in_type.lower() == "federated"]
        provider = federated[0] if federated else (
            request.identities[0].issuer if request.identities else None
        )  # fmt: skip
        denied = {_issuer(x) for x in spec.idp_deny}
        allowed = {_issuer(x) for x in spec.idp_allow}
        if provider in denied or (allowed and provider not in allowed):
            return "identity_providers"
    for a in spec.attributes:
        steps = ATTRIBUTE_DEFAULT_STEPS if a.steps is None else a.steps
        if _runs(steps, request.step) and _attribute_fails(a, request.attributes.get(a.name)):
            return f"attributes.{a.name}."
    return None


def expected_claims(spec: RuleSpec, request: SignupRequest) -> dict[str, object]:
    """The claims Continue must carry (claim enrichment, SPEC §4)."""
    claims: dict[str, object] = {}
    for c in spec.claims:
        if not _runs(c.steps, request.step):
            continue
        domain = request.email_domain or ""
        if c.when_email_domains and not any(
            domain == d or domain.endswith("." + d) for d in c.when_email_domains
        ):
            continue
        if c.override or c.name not in request.attributes:
            claims[c.name] = c.value
    return claims


def spec_to_toml(spec: RuleSpec) -> dict[str, Any]:
    """The `[rules]` table the real loader reads."""
    attributes = []
    for a in spec.attributes:
        t: dict[str, Any] = {"name": a.name, "required": a.required}
        for key in ("pattern", "min_length", "max_length"):
            if getattr(a, key) is not None:
                t[key] = getattr(a, key)
        if a.allowed is not None:
            t["allowed"] = list(a.allowed)
        if a.steps is not None:
            t["steps"] = list(a.steps)
        attributes.append(t)
    return {
        "email_domains": {
            "allow": list(spec.allow),
            "deny": list(spec.deny),
            "include_subdomains": spec.include_subdomains,
            "require_email": spec.require_email,
            "steps": list(spec.domain_steps),
        },
        "identity_providers": {
            "allow": list(spec.idp_allow),
            "deny": list(spec.idp_deny),
            "steps": list(spec.idp_steps),
        },
        "attributes": attributes,
        "claims": [
            {
                "name": c.name,
                "value": c.value,
                "override": c.override,
                "steps": list(c.steps),
                "when_email_domains": list(c.when_email_domains),
            }
            for c in spec.claims
        ],
    }


def _subset(pool: tuple[str, ...], max_size: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(pool), max_size=max_size, unique=True).map(tuple)


@st.composite
def attribute_specs(draw: st.DrawFn) -> AttributeSpec:
    low = draw(st.none() | st.integers(0, 6))
    high = draw(st.none() | st.integers(max(1, low or 0), 8))
    return AttributeSpec(
        name=draw(st.sampled_from(ATTRIBUTE_NAMES)),
        required=draw(st.booleans()),
        pattern=draw(st.none() | st.sampled_from(PATTERNS)),
        min_length=low,
        max_length=high,
        allowed=draw(st.none() | _subset(("student", "teacher", "12345", "true", "7"))),
        steps=draw(st.none() | _subset(STEP_NAMES)),
    )


claim_specs = st.builds(
    ClaimSpec,
    name=st.sampled_from(("Tier", "Role", "displayName", "postalCode")),
    value=st.one_of(st.sampled_from(("standard", "gold", "")), st.booleans(), st.integers(-5, 5)),
    override=st.booleans(),
    steps=_subset(STEP_NAMES),
    when_email_domains=_subset(DOMAIN_POOL, 2),
)
rule_specs = st.builds(
    RuleSpec,
    allow=_subset(DOMAIN_POOL),
    deny=_subset(DOMAIN_POOL),
    include_subdomains=st.booleans(),
    require_email=st.booleans(),
    domain_steps=_subset(STEP_NAMES),
    idp_allow=_subset(ISSUER_POOL),
    idp_deny=_subset(ISSUER_POOL),
    idp_steps=_subset(STEP_NAMES),
    attributes=st.lists(attribute_specs(), max_size=3).map(tuple),
    claims=st.lists(claim_specs, max_size=2).map(tuple),
)
