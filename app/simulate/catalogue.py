"""The battery's probe list for one target: valid requests per step, then hostile ones."""

from __future__ import annotations

from dataclasses import replace

from app.simulate import payloads, steps
from app.simulate.findings import Finding
from app.simulate.hostile import auth_probes, body_probes
from app.simulate.payloads import Profile
from app.simulate.probes import Auth, Expect, Plan, Probe, Target


def _steps(target: Target) -> tuple[str | None, ...]:
    if target.step is not None:
        return (target.step,)
    if target.contract == steps.AUTH_EXTENSION:
        return steps.EXTENSION_STEPS  # the event type travels in the body
    return steps.CONNECTOR_STEPS if target.b2c else (None,)


def catalogue(
    target: Target, auth: Auth, plan: Plan
) -> tuple[tuple[Probe, ...], tuple[Finding, ...]]:
    """Every probe for this target, and notes on the checks that cannot run as configured."""
    profile = replace(plan.profile, b2c=target.b2c)
    walk = _steps(target)
    probes: list[Probe] = []
    notes: list[Finding] = []
    for step in walk:
        suffix = f"@{step}" if len(walk) > 1 else ""
        probes.extend(_valid(target, auth, plan, profile, step, suffix=suffix))
    base_step = walk[0]
    base = payloads.encode(payloads.build(base_step, target.contract, profile))
    probes.extend(_steps_probes(target, auth, plan, profile))
    unknown = None if (target.b2c or target.step is None) else target.step
    probes.extend(body_probes(auth, profile, base, unknown))
    credential_probes, auth_notes = auth_probes(auth, base, base_step)
    probes.extend(credential_probes)
    notes.extend(auth_notes)
    if plan.invalid_claim is None:
        notes.append(
            Finding(
                "rules.invalid-claim",
                "info",
                "not checked: pass --invalid-claim NAME=VALUE (a value your rules reject) to check "
                "that invalid input is blocked, e.g. a ValidationError overwritten by Continue",
            )
        )
    if plan.blocked_email is None:
        notes.append(
            Finding(
                "rules.blocked-email",
                "info",
                "not checked: pass --blocked-email ADDRESS (an address your rules block) to check "
                "that blocked users get ShowBlockPage",
            )
        )
    return tuple(probes), tuple(notes)


def _valid(
    target: Target, auth: Auth, plan: Plan, profile: Profile, step: str | None, *, suffix: str
) -> list[Probe]:
    header = auth.header
    connector = target.contract == steps.API_CONNECTOR

    def probe(pid: str, title: str, body: object, expect: Expect = Expect.SERVE) -> Probe:
        return Probe(pid + suffix, title, step, expect, payloads.encode(body), authorization=header)

    def build(variant: str, who: Profile = profile) -> object:
        return payloads.build(step, target.contract, who, variant)

    full = probe("valid.full", "every claim the step carries", build("full"))
    found = [
        full,
        replace(full, id="replay" + suffix, title="the same request again", replay_of=full.id),
    ]
    found.append(probe("valid.minimal", "optional claims missing", build("minimal")))
    found.append(
        probe("valid.identities-only", "no email, identities only", build("identities-only"))
    )
    if connector:
        found.append(
            probe("valid.other-surname", "lastName and surname swapped", build("other-surname"))
        )
        found.append(
            probe(
                "valid.aliases",
                "clientId, short issuer names, token step alias",
                build("b2c-aliases"),
            )
        )
    found.append(
        probe("valid.custom-attributes", "typed custom attributes", build("custom-attributes"))
    )
    found.append(
        probe("valid.unknown-claims", "claims the endpoint does not know", build("unknown-claims"))
    )
    other_locale = "de-DE" if profile.locale.lower().startswith("fr") else "fr-FR"
    found.append(
        probe(
            "valid.locale",
            f"ui_locales {other_locale}",
            build("full", replace(profile, locale=other_locale)),
        )
    )
    if plan.invalid_claim is not None:
        name, value = plan.invalid_claim
        must_block = step in steps.ATTRIBUTE_STEPS
        found.append(
            probe(
                "rules.invalid-claim",
                f"{name}={value!r}, which the rules reject",
                build("full", profile.with_claim(name, value)),
                Expect.BLOCK if must_block else Expect.SERVE,
            )
        )
    if plan.blocked_email is not None:
        blocked = replace(profile, email=plan.blocked_email)
        found.append(
            probe(
                "rules.blocked-email",
                f"email {plan.blocked_email}, which the rules block",
                build("full", blocked),
                Expect.BLOCK,
            )
        )
    return found


def _steps_probes(target: Target, auth: Auth, plan: Plan, profile: Profile) -> list[Probe]:
    """Unknown steps: with an invalid claim, a ValidationError here would be a violation."""
    who = profile.with_claim(*plan.invalid_claim) if plan.invalid_claim else profile
    if target.contract == steps.AUTH_EXTENSION:
        body = payloads.extension_event(None, who)
        return [
            Probe(
                "step.unknown",
                "an event type that is not attribute collection",
                None,
                Expect.SERVE,
                payloads.encode(body),
                authorization=auth.header,
            )
        ]
    judged = None if target.b2c or target.step is None else target.step
    body = payloads.connector_claims(None, replace(who, b2c=False))
    found = []
    if target.b2c:
        found.append(
            Probe(
                "step.none",
                "B2C body without a step",
                None,
                Expect.SERVE,
                payloads.encode(body),
                authorization=auth.header,
            )
        )
    found.append(
        Probe(
            "step.unknown",
            "a step value no contract defines",
            judged,
            Expect.SERVE,
            payloads.encode({**body, "step": "NotARealStep"}),
            authorization=auth.header,
        )
    )
    return found
