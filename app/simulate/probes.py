"""The conformance battery's vocabulary: targets, credentials, probes and what each expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from app.simulate.credentials import Basic, Bearer
from app.simulate.payloads import Profile

JSON = "application/json"
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
