"""Client-certificate expiry: a warning once per worker per day, and a /readyz detail.

Entra uses the newest uploaded certificate that has not expired (REFERENCE §2); the
operator has to upload the next one and pin it before the current one runs out. The
warnings and the readiness detail say when that time has come, without ever failing
readiness: an instance taken out of rotation would not renew anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.logs import event

if TYPE_CHECKING:
    from app.services import Services

_RECENT_LIMIT = 32


@dataclass(frozen=True)
class Tracked:
    """A certificate whose expiry matters: one that was accepted, or one the configuration names."""

    sha256: str
    subject: str
    not_after: datetime
    source: str  # "tls", "forwarded", or the configuration key naming its file

    def days_left(self, now: datetime) -> int:
        """Whole days until notAfter, negative once expired."""
        return (self.not_after - now) // timedelta(days=1)


class ExpiryMonitor:
    """Remembers recently accepted certificates; warns about expiring ones once a day."""

    def __init__(
        self, window_days: int, configured: Iterable[Tracked], clock: Callable[[], datetime]
    ) -> None:
        self.window_days = window_days
        self._configured = tuple(configured)
        self._clock = clock
        self._recent: dict[str, Tracked] = {}
        self._warned: set[tuple[str, date]] = set()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The monitor's clock (injectable for tests)."""
        return self._clock()

    def accepted(self, tracked: Tracked, now: datetime) -> None:
        """Note a certificate that was just accepted (cheap: called on every request)."""
        if tracked.sha256 not in self._recent:
            with self._lock:
                if len(self._recent) >= _RECENT_LIMIT:
                    self._recent.pop(next(iter(self._recent)))
                self._recent[tracked.sha256] = tracked
        self._warn_once(tracked, now)

    def check_configured(self, now: datetime) -> None:
        """Warn about pinned files' and anchors' certificates within the window."""
        for tracked in self._configured:
            self._warn_once(tracked, now)

    def _warn_once(self, tracked: Tracked, now: datetime) -> None:
        days = tracked.days_left(now)
        if days > self.window_days:
            return
        key = (tracked.sha256, now.date())
        if key in self._warned:
            return
        with self._lock:
            if key in self._warned:
                return
            self._warned = {k for k in self._warned if k[1] == now.date()}
            self._warned.add(key)
        event(
            logging.WARNING,
            "auth.certificate.expiring",
            cert_thumbprint=tracked.sha256,
            subject=tracked.subject,
            source=tracked.source,
            not_after=tracked.not_after.isoformat(),
            cert_days_left=days,
            window_days=self.window_days,
        )

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Always ready; lists the certificates within the warning window."""
        now = self.now()
        seen: dict[str, Tracked] = {t.sha256: t for t in self._configured}
        seen.update(self._recent)
        due = sorted(
            (t for t in seen.values() if t.days_left(now) <= self.window_days),
            key=lambda t: t.not_after,
        )
        expiring = [
            {
                "sha256": t.sha256,
                "subject": t.subject,
                "source": t.source,
                "days_left": t.days_left(now),
            }
            for t in due
        ]
        return True, {"window_days": self.window_days, "expiring": expiring}


def attach(services: Services) -> None:
    """Register the "certificates" readiness check when certificate auth is configured."""
    method = services.authenticator.methods.get("certificate")
    monitor = getattr(method, "monitor", None)
    if not isinstance(monitor, ExpiryMonitor):
        return
    services.readiness["certificates"] = monitor.readiness
    monitor.check_configured(monitor.now())
