"""What a running app holds: configuration, authenticator, rules' collaborators, checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.auth import Authenticator
from app.config.model import Config
from app.rules.engine import InvitationChecker, RuleSet

# A readiness check returns (ok, details) and must be quick.
ReadinessCheck = Callable[[], tuple[bool, dict[str, Any]]]


@dataclass
class Services:
    config: Config
    authenticator: Authenticator
    rules: RuleSet
    invitations: InvitationChecker | None = None
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    store: Any = None
