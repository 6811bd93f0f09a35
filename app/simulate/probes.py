"""The conformance battery's requests: what to send, and what kind of answer each one deserves."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from app.simulate import payloads, steps
from app.simulate.credentials import Basic, Bearer, basic_header
from app.simulate.payloads import Profile
from app.simulate.verdict import Finding

JSON = "application/json"
ONE_MEGABYTE = 1024 * 1024
TlsChoice = Literal["client", "none", "impostor"]


class Expect(StrEnum):
    """What a correct endpoint does with the probe."""

    SERVE = "serve"  # a valid request: any contract-valid answer
    BLOCK = "block"  # the rules must stop it: ShowBlockPage, or ValidationError where allowed
    MALFORMED = "malformed"  # unusable body: blocking answer or 4xx; never 5xx, never Continue
    REJECT = "reject"  # bad credentials: 401/403 or a refused handshake; never served
    ACCEPT = "accept"  # unusual but valid credentials: must be served


@dataclass(frozen=True)
class Target:
    """One endpoint URL and how its step is known (URL, --step, body for B2C, or not at all)."""

    url: str
    step: str | None
    contract: str
    b2c: bool


@dataclass(frozen=True)
class Auth:
    """The credentials the caller holds; a client certificate lives in the TLS context."""

    basic: Basic | None = None
    bearer: Bearer | None = None
    certificate: bool = False

    @property
    def header(self) -> str | None:
        """The Authorization value Entra would send, if any."""
        if self.basic:
            return self.basic.header()
        return self.bearer.header() if self.bearer else None

    @property
    def any(self) -> bool:
        """Some credential is presented."""
        return bool(self.basic or self.bearer or self.certificate)


@dataclass(frozen=True)
class Plan:
    """What the user tells the battery about the endpoint's rules."""

    profile: Profile = field(default_factory=Profile)
    invalid_claim: tuple[str, object] | None = None  # an attribute value the rules reject
    blocked_email: str | None = None  # an address the rules block


@dataclass(frozen=True)
class Probe:
    """One request of the battery; `step` is the step its answer is judged against."""

    id: str
    title: str
    step: str | None
    expect: Expect
    body: bytes
    content_type: str | None = JSON
    authorization: str | None = None
    tls: TlsChoice = "client"
    replay_of: str | None = None

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The request headers, in the order Entra sends them."""
        found: list[tuple[str, str]] = []
        if self.content_type is not None:
            found.append(("Content-Type", self.content_type))
        if self.authorization is not None:
            found.append(("Authorization", self.authorization))
        return tuple(found)


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
    probes.extend(_bodies(target, auth, profile, base, unknown))
    auth_probes, auth_notes = _auth(auth, base, base_step)
    probes.extend(auth_probes)
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


def _bodies(
    target: Target, auth: Auth, profile: Profile, base: bytes, step: str | None
) -> list[Probe]:
    header = auth.header
    document = json.loads(base)
    wrong_types = {
        key: 42 if isinstance(value, str) else "wrong" for key, value in document.items()
    }
    padding = profile.custom("Padding")
    oversized = payloads.encode({**document, padding: "x" * ONE_MEGABYTE})
    marker = b'"ui_locales"' if b'"ui_locales"' in base else b'"type"'
    invalid_utf8 = base.replace(marker, b'"\xff\xfe": "\xc3\x28", ' + marker, 1)

    def probe(pid: str, title: str, body: bytes, content_type: str | None = JSON) -> Probe:
        return Probe(pid, title, step, Expect.MALFORMED, body, content_type, header)

    return [
        probe("body.not-json", "a body that is not JSON", b"this is not JSON"),
        probe("body.truncated", "JSON cut in the middle", base[: len(base) // 2]),
        probe("body.empty", "an empty body", b""),
        probe("body.array", "a JSON array instead of an object", b"[" + base + b"]"),
        probe(
            "body.wrong-types", "every claim with the wrong JSON type", payloads.encode(wrong_types)
        ),
        probe("body.invalid-utf8", "bytes that are not UTF-8", invalid_utf8),
        probe("body.oversized", "a 1 MiB body", oversized),
        probe("body.wrong-content-type", "a valid body sent as text/plain", base, "text/plain"),
    ]


def _auth(auth: Auth, base: bytes, step: str | None) -> tuple[list[Probe], list[Finding]]:
    """Bad credentials alone (others stripped) must be rejected; odd but valid ones served."""
    notes: list[Finding] = []

    def reject(pid: str, title: str, header: str | None, tls: TlsChoice = "none") -> Probe:
        return Probe(pid, title, step, Expect.REJECT, base, JSON, header, tls)

    if not auth.any:
        notes.append(
            Finding(
                "auth.not-tested",
                "info",
                "no credentials given: authentication "
                "probes skipped (production endpoints must require basic or "
                "certificate auth)",
            )
        )
        return [], notes
    found = [reject("auth.none", "no credentials at all", None)]
    if auth.basic is not None:
        user, password = auth.basic.username, auth.basic.password

        def b64(text: str) -> str:
            return base64.b64encode(text.encode()).decode("ascii")

        found += [
            reject(
                "auth.wrong-password",
                "right user, wrong password",
                basic_header(user, password + "-wrong"),
            ),
            reject(
                "auth.wrong-user",
                "wrong user, right password",
                f"Basic {b64(f'x{user}:{password}')}",
            ),
            reject("auth.no-colon", "credentials without a colon", f"Basic {b64(user)}"),
            reject("auth.bad-base64", "credentials that are not base64", "Basic %%%not-base64%%%"),
            reject("auth.empty", "the Basic scheme with nothing after it", "Basic"),
            reject(
                "auth.non-ascii", "non-ASCII user and password", f"Basic {b64('usér:pässwörd')}"
            ),
            reject(
                "auth.wrong-scheme",
                "the right credentials under the Bearer scheme",
                f"Bearer {b64(f'{user}:{password}')}",
            ),
        ]
        lower = auth.basic.header("basic")
        found.append(
            Probe(
                "auth.lowercase-scheme",
                "the scheme written 'basic' (RFC 7617: case-insensitive)",
                step,
                Expect.ACCEPT,
                base,
                JSON,
                lower,
            )
        )
        if ":" in password:
            found.append(
                Probe(
                    "auth.colon-password",
                    "the real password, which contains ':'",
                    step,
                    Expect.ACCEPT,
                    base,
                    JSON,
                    auth.header,
                )
            )
        else:
            notes.append(
                Finding(
                    "auth.colon-password",
                    "info",
                    "not checked: the password has "
                    "no ':'; use one that does to check it is split on the first "
                    "colon only",
                )
            )
    if auth.bearer is not None:
        found.append(
            reject(
                "auth.bad-token",
                "a bearer token that is not a valid JWT",
                "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            )
        )
    if auth.certificate:
        found.append(
            reject(
                "auth.impostor-cert",
                "a self-signed certificate copying the real one's subject and issuer",
                None,
                "impostor",
            )
        )
    return found, notes
