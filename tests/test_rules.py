"""Rules as pure functions of the parsed request and the configuration."""

from __future__ import annotations

from typing import Any

import pytest

from app.config.model import AttributeRule
from app.contract.model import Identity, SignupRequest, Step
from app.decision import Action
from app.rules.builtin import attribute_problem
from app.rules.engine import evaluate
from app.rules.messages import pick

DEV = "environment='development'\n[auth]\nmethods=['none']\n"


@pytest.mark.parametrize(
    ("rule", "value", "problem"),
    [
        (AttributeRule("x", required=True), None, "missing"),
        (AttributeRule("x", required=True), "   ", "missing"),
        (AttributeRule("x"), None, None),
        (AttributeRule("x", min_length=3), "ab", "too short"),
        (AttributeRule("x", max_length=3), "abcd", "too long"),
        (AttributeRule("x", max_length=3), "abc", None),
        (AttributeRule("x", allowed=("a", "b")), "c", "not an allowed value"),
        (AttributeRule("x", allowed=("true",)), True, None),
        (AttributeRule("x", pattern="[0-9]{5}"), "123456", "does not match the pattern"),
        (AttributeRule("x", pattern="[0-9]{5}"), "12345", None),
        (AttributeRule("x", pattern="[0-9]+"), 42, None),
    ],
)
def test_attribute_problem(rule: AttributeRule, value: Any, problem: str | None) -> None:
    assert attribute_problem(rule, value) == problem


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr-CA", "ca"),
        ("fr-FR", "fr"),
        ("FR", "fr"),
        ("de-DE", "en"),
        (None, "en"),
        ("fr-CA,en", "ca"),
    ],
)
def test_message_locale_selection(locale: str | None, expected: str) -> None:
    assert pick({"en": "en", "fr": "fr", "fr-CA": "ca"}, locale, "en") == expected


def test_fallback_language_configurable() -> None:
    assert pick({"en": "en", "de": "de"}, "ja", "de") == "de"
    assert pick({"fr": "fr"}, "ja", "en") == "fr"


def request(**kw: Any) -> SignupRequest:
    kw.setdefault("step", Step.POST_ATTRIBUTE_COLLECTION)
    return SignupRequest(**kw)


def test_allow_list(make_config: Any) -> None:
    cfg = make_config(DEV + "[rules.email_domains]\nallow=['contoso.com']\n")
    assert evaluate(request(email_domain="hr.contoso.com"), cfg).action is Action.CONTINUE
    d = evaluate(request(email_domain="fabrikam.com"), cfg)
    assert (d.action, d.rule) == (Action.BLOCK, "email_domains.allow")
    d = evaluate(request(), cfg)
    assert (d.action, d.rule) == (Action.BLOCK, "email_domains.missing")


def test_deny_beats_allow(make_config: Any) -> None:
    cfg = make_config(
        DEV + "[rules.email_domains]\nallow=['contoso.com']\ndeny=['guest.contoso.com']\n"
    )
    d = evaluate(request(email_domain="a.guest.contoso.com"), cfg)
    assert d.rule == "email_domains.deny"


def test_no_subdomains(make_config: Any) -> None:
    cfg = make_config(
        DEV + "[rules.email_domains]\ndeny=['contoso.com']\ninclude_subdomains=false\n"
    )
    assert evaluate(request(email_domain="a.contoso.com"), cfg).action is Action.CONTINUE
    assert evaluate(request(email_domain="contoso.com"), cfg).action is Action.BLOCK


def test_identity_provider_allow(make_config: Any) -> None:
    cfg = make_config(DEV + "[rules.identity_providers]\nallow=['google.com', 'mail']\n")
    google = (Identity("federated", "google", "1"),)
    fb = (Identity("federated", "facebook", "1"),)
    assert evaluate(request(identities=google), cfg).action is Action.CONTINUE
    d = evaluate(request(identities=fb), cfg)
    assert (d.action, d.rule) == (Action.BLOCK, "identity_providers.allow")
    assert evaluate(request(), cfg).rule == "identity_providers.allow"


def test_rule_steps(make_config: Any) -> None:
    cfg = make_config(
        DEV + "[rules.email_domains]\ndeny=['x.com']\nsteps=['post-federation-signup']\n"
    )
    assert evaluate(request(email_domain="x.com"), cfg).action is Action.CONTINUE
    fed = request(email_domain="x.com", step=Step.POST_FEDERATION_SIGNUP)
    assert evaluate(fed, cfg).action is Action.BLOCK
    unknown = request(email_domain="x.com", step=Step.UNKNOWN)
    assert evaluate(unknown, cfg).action is Action.BLOCK


def test_localised_configured_message(make_config: Any) -> None:
    cfg = make_config(
        DEV + "[messages]\nfallback_language='en'\n"
        "email_domain_blocked={en='No.', fr='Non.'}\n"
        "[rules.email_domains]\ndeny=['x.com']\n"
    )
    assert evaluate(request(email_domain="x.com", locale="fr-BE"), cfg).message == "Non."
    assert evaluate(request(email_domain="x.com", locale="es"), cfg).message == "No."


def test_enrichment_condition(make_config: Any) -> None:
    cfg = make_config(
        DEV + "[[rules.claims]]\nname='Partner'\nvalue=true\n"
        "when_email_domains=['partner.example']\n"
    )
    d = evaluate(request(email_domain="eu.partner.example"), cfg)
    assert dict(d.claims) == {"Partner": True}
    assert dict(evaluate(request(email_domain="other.example"), cfg).claims) == {}


def test_rule_set_compiles_each_step_to_the_rules_that_apply(make_config: Any) -> None:
    from app.rules import builtin
    from app.rules.engine import RuleSet, plan_for

    cfg = make_config(
        DEV
        + "[rules.email_domains]\ndeny=['mailinator.com']\nsteps=['post-federation-signup']\n"
        + "[[rules.attributes]]\nname='city'\nrequired=true\nsteps=['pre-token-issuance']\n"
        + "[[rules.claims]]\nname='Tier'\nvalue='gold'\nsteps=['pre-token-issuance']\n"
    )
    checks, claims, _ = plan_for(cfg, Step.POST_FEDERATION_SIGNUP)
    assert checks == (builtin.check_email_domain,) and claims == ()
    checks, claims, fixed = plan_for(cfg, Step.PRE_TOKEN_ISSUANCE)
    assert len(checks) == 1 and [c.name for c in claims] == ["Tier"]
    assert fixed is not None and dict(fixed.claims) == {"Tier": "gold"}
    checks, claims, _ = plan_for(cfg, Step.POST_ATTRIBUTE_COLLECTION)
    assert checks == () and claims == ()
    # An unknown step runs every rule (fail closed).
    checks, claims, _ = plan_for(cfg, Step.UNKNOWN)
    assert len(checks) == 2 and len(claims) == 1

    rules = RuleSet(cfg)
    blocked = request(step=Step.POST_FEDERATION_SIGNUP, email_domain="mailinator.com")
    assert rules.evaluate(blocked).rule == "email_domains.deny"
    # The same domain at a step the rule does not cover passes.
    assert rules.evaluate(request(email_domain="mailinator.com")).action is Action.CONTINUE
    d = rules.evaluate(request(step=Step.PRE_TOKEN_ISSUANCE))
    assert (d.action, d.rule) == (Action.VALIDATION_ERROR, "attributes.city.missing")
    d = rules.evaluate(request(step=Step.PRE_TOKEN_ISSUANCE, attributes={"city": "Paris"}))
    assert (d.action, dict(d.claims)) == (Action.CONTINUE, {"Tier": "gold"})


@pytest.mark.parametrize(
    ("claim", "fixed", "expected"),
    [
        ("name='Tier'\nvalue='gold'", True, [{"Tier": "gold"}, {"Tier": "gold"}]),
        # Depends on the request: set only when the request has no Tier of its own.
        ("name='Tier'\nvalue='gold'\noverride=false", False, [{"Tier": "gold"}, {}]),
        (
            "name='Tier'\nvalue='gold'\nwhen_email_domains=['contoso.com']",
            False,
            [{"Tier": "gold"}, {}],
        ),
    ],
)
def test_continue_is_built_once_only_when_no_claim_depends_on_the_request(
    make_config: Any, claim: str, fixed: bool, expected: list[dict[str, str]]
) -> None:
    from app.rules.engine import RuleSet, plan_for

    cfg = make_config(DEV + "[[rules.claims]]\n" + claim + "\n")
    assert (plan_for(cfg, Step.POST_ATTRIBUTE_COLLECTION).fixed_continue is not None) is fixed
    rules = RuleSet(cfg)
    requests = [
        request(attributes={}, email_domain="contoso.com"),
        request(attributes={"Tier": "silver"}, email_domain="fabrikam.com"),
    ]
    assert [dict(rules.evaluate(r).claims) for r in requests] == expected
