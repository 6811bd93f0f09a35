"""`certs check`: days left on every certificate file the configuration names (for cron)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.certs.describe import expired_ago
from app.certs.x509util import days_left, load_certificate_file, thumbprint_sha256
from app.config.model import Config
from app.errors import ConnectorError

# Environment variables that name certificate files gunicorn serves with (SPEC §2).
TLS_FILE_VARIABLES = ("CONNECTOR_TLS_CERT", "CONNECTOR_TLS_CLIENT_CA")
OK, EXPIRING, NOT_YET_VALID, EXPIRED, UNREADABLE = (
    "ok",
    "expiring",
    "not yet valid",
    "expired",
    "unreadable",
)
_FAILING = (EXPIRED, UNREADABLE)
_WARNING = (EXPIRING, NOT_YET_VALID)


@dataclass(frozen=True)
class CheckItem:
    """One certificate (or one unreadable file) and its state."""

    source: str  # the configuration key or environment variable that names the file
    path: str
    status: str  # OK, EXPIRING, NOT_YET_VALID, EXPIRED or UNREADABLE
    subject: str | None = None
    sha256: str | None = None
    not_after: datetime | None = None
    days_left: int | None = None
    detail: str = ""  # why an unreadable file could not be read

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = dict(vars(self))
        data["not_after"] = self.not_after.isoformat() if self.not_after else None
        return data

    def line(self) -> str:
        """One line for a terminal or a cron mail."""
        head = f"{self.status.upper():<13} {self.source}: {self.path}"
        if self.status == UNREADABLE or self.not_after is None or self.days_left is None:
            return f"{head}: {self.detail}"
        left = (
            expired_ago(self.days_left)
            if self.status == EXPIRED
            else f"{self.days_left} day(s) left"
        )
        return f"{head}: {self.subject}, until {self.not_after:%Y-%m-%d %H:%M} UTC ({left})"


@dataclass(frozen=True)
class CheckReport:
    """Every checked certificate; the exit code follows from the worst state."""

    items: tuple[CheckItem, ...]
    warn_days: int
    now: datetime
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """2 when one is expired or unreadable, 1 when one is in the window, else 0."""
        statuses = {item.status for item in self.items}
        if statuses.intersection(_FAILING):
            return 2
        return 1 if statuses.intersection(_WARNING) else 0

    def as_json(self) -> dict[str, Any]:
        """The --json output."""
        return {
            "checked_at": self.now.isoformat(),
            "warn_days": self.warn_days,
            "exit_code": self.exit_code,
            "items": [item.as_json() for item in self.items],
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """The human-readable report."""
        out = [f"certificate check at {self.now:%Y-%m-%d %H:%M} UTC, window {self.warn_days} days"]
        out += [item.line() for item in self.items]
        out += [f"note: {note}" for note in self.notes]
        verdict = {0: "all fine", 1: "attention needed", 2: "failing"}[self.exit_code]
        return [*out, f"result: {verdict} (exit {self.exit_code})"]


def check_certificates(
    config: Config, environ: Mapping[str, str], warn_days: int | None, now: datetime
) -> CheckReport:
    """Check pin files, the CA bundle and the TLS files named in `environ` as of `now`."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # certificates carry UTC times
    cert_config = config.auth.certificate
    window = cert_config.expiry_warning_days if warn_days is None else warn_days
    named = [(f"auth.certificate.pin_files[{i}]", p) for i, p in enumerate(cert_config.pin_files)]
    if cert_config.ca_bundle:
        named.append(("auth.certificate.ca_bundle", cert_config.ca_bundle))
    named += [(name, environ[name]) for name in TLS_FILE_VARIABLES if environ.get(name)]
    items: list[CheckItem] = []
    for source, path in named:
        items += _check_file(source, path, now, timedelta(days=window))
    notes = []
    if cert_config.thumbprints:
        notes.append(
            f"{len(cert_config.thumbprints)} pinned thumbprint(s) in auth.certificate.thumbprints "
            "name no file: check their expiry where the certificates live"
        )
    if not named:
        notes.append("the configuration names no certificate file")
    return CheckReport(tuple(items), window, now, tuple(notes))


def _check_file(source: str, path: str, now: datetime, window: timedelta) -> list[CheckItem]:
    try:
        certs = load_certificate_file(path)
    except ConnectorError as exc:
        return [CheckItem(source, path, UNREADABLE, detail=str(exc))]
    items = []
    for cert in certs:
        not_after = cert.not_valid_after_utc
        if now > not_after:
            status = EXPIRED
        elif now < cert.not_valid_before_utc:
            status = NOT_YET_VALID
        elif not_after <= now + window:
            status = EXPIRING
        else:
            status = OK
        items.append(
            CheckItem(
                source,
                path,
                status,
                subject=cert.subject.rfc4514_string(),
                sha256=thumbprint_sha256(cert),
                not_after=not_after,
                days_left=days_left(cert, now),
            )
        )
    return items
