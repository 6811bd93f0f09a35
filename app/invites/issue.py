"""Make invitations: parse what the operator asked for, generate codes, store their hashes."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from app.contract.model import normalise_claim_name
from app.errors import RequestError, ToolError
from app.invites import codes
from app.rules.domains import normalise_domain
from app.store.model import ClaimValue, NewInvite, Store

MAX_COUNT = 10_000
MAX_USES = 100_000
MAX_NOTE = 200
MAX_CLAIM_VALUE = 250  # Entra's limit for a custom string attribute
_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLAIM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_LONGEST = timedelta(days=3660)


@dataclass(frozen=True)
class IssueSpec:
    max_uses: int = 1
    expires_at: datetime | None = None
    emails: tuple[str | None, ...] = (None,)  # one invite per entry; None = not bound
    domain: str | None = None
    claims: Mapping[str, ClaimValue] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""


@dataclass(frozen=True)
class Issued:
    invite: NewInvite
    code: str  # display form: shown once, never stored


def parse_expiry(text: str, now: datetime) -> datetime | None:
    """`30d`, `12h`, `90m`, `2w`, an ISO date (end of that day, UTC), a datetime, or `never`."""
    value = text.strip()
    if value.lower() == "never":
        return None
    m = _DURATION.match(value)
    if m:
        at = now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ToolError(
                f"--expires: expected a duration (30d, 12h, 90m, 2w), an ISO date or "
                f"datetime, or 'never'; got {text!r}"
            ) from exc
        if len(value) == 10:  # a date alone: valid through that whole day
            parsed += timedelta(days=1)
        at = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if at <= now:
        raise ToolError(f"--expires: expected a time in the future, got {at.isoformat()}")
    if at - now > _LONGEST:
        raise ToolError(f"--expires: expected at most 10 years ahead, got {at.isoformat()}")
    return at


def parse_claim(text: str, attribute: str) -> tuple[str, ClaimValue]:
    """`Name=text` for a string, `Name:=true` or `Name:=42` for a Boolean or Int attribute."""
    eq = text.find("=")
    if eq < 1:
        raise ToolError(f"--claim: expected NAME=VALUE or NAME:=JSON, got {text!r}")
    typed = text[eq - 1] == ":"
    name, raw = text[: eq - 1 if typed else eq], text[eq + 1 :]
    short = normalise_claim_name(name)
    if not _CLAIM_NAME.match(short):
        raise ToolError(f"--claim: expected a claim name like Role, got {name!r}")
    if short == attribute:
        raise ToolError(f"--claim: {short} is the invitation code attribute itself")
    value: ClaimValue
    if typed:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ToolError(f"--claim {short}: expected true, false or an integer") from exc
        if not isinstance(value, bool | int):
            raise ToolError(f"--claim {short}: expected true, false or an integer, got {raw!r}")
    else:
        value = raw
        if len(value) > MAX_CLAIM_VALUE:
            raise ToolError(
                f"--claim {short}: expected at most {MAX_CLAIM_VALUE} characters, got {len(value)}"
            )
    return short, value


def parse_email(text: str) -> str:
    try:
        email = codes.normalise_email(text)
    except RequestError as exc:
        raise ToolError(f"expected an email address, got {text!r}") from exc
    if not email.partition("@")[0] or any(c.isspace() for c in email):
        raise ToolError(f"expected an email address, got {text!r}")
    return email


def parse_domain(text: str) -> str:
    try:
        return normalise_domain(text.removeprefix("@"))
    except RequestError as exc:
        raise ToolError(f"--domain: expected a domain like contoso.com, got {text!r}") from exc


def read_emails(lines: Sequence[str]) -> tuple[str, ...]:
    """One address per line; blank lines and # comments skipped; duplicates refused."""
    emails = [parse_email(x) for x in (ln.split("#", 1)[0].strip() for ln in lines) if x]
    if not emails:
        raise ToolError("--email-file: expected at least one email address, got none")
    seen: set[str] = set()
    for email in emails:
        if email in seen:
            raise ToolError(f"--email-file: {email} is listed twice")
        seen.add(email)
    return tuple(emails)


def check_limits(count: int, max_uses: int, note: str) -> None:
    if not 1 <= count <= MAX_COUNT:
        raise ToolError(f"--count: expected 1 to {MAX_COUNT}, got {count}")
    if not 1 <= max_uses <= MAX_USES:
        raise ToolError(f"--max-uses: expected 1 to {MAX_USES}, got {max_uses}")
    if len(note) > MAX_NOTE:
        raise ToolError(f"--note: expected at most {MAX_NOTE} characters, got {len(note)}")


def issue(store: Store, key: str, spec: IssueSpec, now: datetime) -> list[Issued]:
    """Generate one code per entry of spec.emails and store only their keyed hashes."""
    issued = []
    for email in spec.emails:
        code = codes.generate()
        invite = NewInvite(
            id=secrets.token_hex(8),
            code_hash=codes.code_hash(key, codes.normalise(code) or ""),
            created_at=now,
            expires_at=spec.expires_at,
            max_uses=spec.max_uses,
            email=email,
            domain=spec.domain,
            claims=MappingProxyType(dict(spec.claims)),
            note=spec.note,
        )
        issued.append(Issued(invite, code))
    store.create_invites([i.invite for i in issued])
    return issued
