"""What the store holds and answers, the interface both back ends implement, and the verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, Protocol

from app.errors import StoreError

ClaimValue = str | bool | int


class Outcome(Enum):
    REDEEMED = "redeemed"
    REPLAYED = "replayed"  # the same redeemer again (Entra's retry): success, no extra use
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    BOUND = "bound"  # issued for another email address or domain
    USED_UP = "used"

    @property
    def ok(self) -> bool:
        return self in (Outcome.REDEEMED, Outcome.REPLAYED)


class RevokeResult(Enum):
    REVOKED = "revoked"
    ALREADY = "already revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class NewInvite:
    id: str
    code_hash: str
    created_at: datetime
    expires_at: datetime | None
    max_uses: int
    email: str | None = None  # normalised; binds the code to this address
    domain: str | None = None  # normalised; binds the code to this email domain
    claims: Mapping[str, ClaimValue] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""


@dataclass(frozen=True)
class InviteRow:
    """One invite as stored, with its use count (never the code or its hash)."""

    id: str
    created_at: datetime
    expires_at: datetime | None
    max_uses: int
    uses: int
    revoked_at: datetime | None
    email: str | None
    domain: str | None
    claims: Mapping[str, ClaimValue]
    note: str

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        if self.uses >= self.max_uses:
            return "used"
        return "active"


@dataclass(frozen=True)
class Claimant:
    """Who is redeeming: a keyed hash for idempotency, plus what a binding is checked against."""

    redeemer: str
    email: str | None
    domain: str | None


@dataclass(frozen=True)
class Redemption:
    outcome: Outcome
    invite_id: str | None = None
    claims: Mapping[str, ClaimValue] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MigrationReport:
    backend: str
    location: str  # the database without credentials
    version: int
    applied: tuple[int, ...]


def judge(invite: InviteRow, replay: bool, claimant: Claimant, now: datetime) -> Outcome:
    """The verdict on a locked invite; the order matters, first failure wins."""
    if invite.revoked_at is not None:
        return Outcome.REVOKED
    if invite.expires_at is not None and now >= invite.expires_at:
        return Outcome.EXPIRED
    if replay:
        return Outcome.REPLAYED
    if invite.email is not None and claimant.email != invite.email:
        return Outcome.BOUND
    if invite.domain is not None and claimant.domain != invite.domain:
        return Outcome.BOUND
    if invite.uses >= invite.max_uses:
        return Outcome.USED_UP
    return Outcome.REDEEMED


def settle(invite: InviteRow | None, replay: bool, claimant: Claimant, now: datetime) -> Outcome:
    """Why a use could not be taken after all, judged from a fresh read."""
    outcome = Outcome.UNKNOWN if invite is None else judge(invite, replay, claimant, now)
    if outcome is Outcome.REDEEMED:  # cannot happen: uses only grow, revocation is final
        raise StoreError("invitation changed while being redeemed; try again")
    return outcome


class Store(Protocol):
    """A store back end; every method raises app.errors.StoreError on any failure."""

    backend: str

    def migrate(self) -> MigrationReport:
        """Create or upgrade the schema (safe to run from many processes at once)."""
        ...

    def ping(self) -> dict[str, Any]:
        """Quick readiness probe: reachable and migrated; details safe to show unauthenticated."""
        ...

    def create_invites(self, invites: Sequence[NewInvite]) -> None: ...

    def list_invites(self) -> list[InviteRow]: ...

    def revoke_invite(self, invite_id: str, now: datetime) -> RevokeResult: ...

    def redeem(self, code_hash: str, claimant: Claimant, now: datetime) -> Redemption:
        """One atomic redemption: at most max_uses distinct redeemers ever succeed."""
        ...

    def close(self) -> None: ...
