"""Property: the rules engine answers Continue exactly when an independent oracle approves.

Random rule sets go through the real configuration loader; random parsed requests go
through `evaluate`. The oracle (tests/rules_oracle.py) names the first rule that must stop
the request; the engine must stop it with that rule and the right action, or else Continue
with exactly the enrichment claims. The invitation checker runs last, only when every other
rule passed, and its decision wins.
"""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from app.config import Config, parse_config
from app.contract.model import Identity, SignupRequest, Step, Value
from app.decision import Action, Decision
from app.rules.engine import evaluate
from tests.fuzzing import budget, count
from tests.rules_oracle import (
    ATTRIBUTE_NAMES,
    DOMAIN_POOL,
    RuleSpec,
    expected_claims,
    first_failure,
    rule_specs,
    spec_to_toml,
)

pytest_plugins = ["tests.fuzz_report"]

AUTH = {
    "auth": {
        "methods": ["basic"],
        "basic": {"credentials": [{"username": "entra", "password_env": "P"}]},
    }
}

request_domain = st.one_of(
    st.none(),
    st.sampled_from(DOMAIN_POOL),
    st.builds(lambda p, d: f"{p}.{d}", st.sampled_from(("a", "x.y", "mail")),
              st.sampled_from(DOMAIN_POOL)),
    st.sampled_from(("othercontoso.com", "contoso.com.evil", "ample", "other.test")),
)  # fmt: skip
identities = st.lists(
    st.builds(
        Identity,
        st.sampled_from(("federated", "Federated", "emailAddress", "userName")),
        st.sampled_from(("google", "facebook", "mail", "contoso.example", "")),
        st.text(max_size=5),
    ),
    max_size=3,
).map(tuple)
value: st.SearchStrategy[Value] = st.one_of(
    st.sampled_from(("12345", "1234", "123456", "student", "teacher", "", "  ", "abc", "true")),
    st.text(max_size=10),
    st.booleans(),
    st.integers(-10, 100000),
)
requests = st.builds(
    lambda step, domain, ids, attrs: SignupRequest(
        step=step,
        email=f"u@{domain}" if domain else None,
        email_domain=domain,
        identities=ids,
        attributes=MappingProxyType(attrs),
    ),
    st.sampled_from(list(Step)),
    request_domain,
    identities,
    st.dictionaries(st.sampled_from((*ATTRIBUTE_NAMES, "Tier")), value, max_size=5),
)


def config_for(spec: RuleSpec) -> Config:
    return parse_config({**AUTH, "rules": spec_to_toml(spec)}, "fuzz.toml", {"P": "x"})


def check(decision: Decision, spec: RuleSpec, request: SignupRequest) -> None:
    expected = first_failure(spec, request)
    if expected is None:
        assert decision.action is Action.CONTINUE, (decision, request)
        assert dict(decision.claims) == expected_claims(spec, request)
        return
    assert decision.action is not Action.CONTINUE, (expected, request)
    assert decision.rule.startswith(expected), (decision.rule, expected)
    assert decision.message
    wanted = Action.VALIDATION_ERROR if expected.startswith("attributes.") else Action.BLOCK
    assert decision.action is wanted


@budget(400)
@given(spec=rule_specs, request=requests)
def test_engine_agrees_with_the_oracle(spec: RuleSpec, request: SignupRequest) -> None:
    count("rules: engine vs oracle")
    check(evaluate(request, config_for(spec)), spec, request)


@budget(200)
@given(
    spec=rule_specs,
    request=requests,
    verdict=st.none() | st.just(Decision.invalid("invitations.invalid", "no")),
)
def test_invitations_run_last_and_only_after_every_other_rule(
    spec: RuleSpec, request: SignupRequest, verdict: Decision | None
) -> None:
    count("rules: invitation checker ordering")
    calls: list[dict[str, Value]] = []

    def checker(req: SignupRequest, config: Config, claims: dict[str, Value]) -> Decision | None:
        calls.append(dict(claims))
        return verdict

    decision = evaluate(request, config_for(spec), checker)
    if first_failure(spec, request) is not None:
        assert calls == []
        check(decision, spec, request)
    else:
        assert calls == [expected_claims(spec, request)]
        assert decision == (verdict or Decision.proceed(expected_claims(spec, request)))
