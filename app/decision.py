"""What the rules decide: a frozen value the contract layer renders and the log records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any


class Action(Enum):
    CONTINUE = "Continue"
    BLOCK = "ShowBlockPage"
    VALIDATION_ERROR = "ValidationError"


# Shared: a read-only empty mapping need not be built for every decision.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Decision:
    action: Action
    rule: str  # the rule that decided ("default" when every rule passed)
    message: str = ""
    # Claims to return with Continue, by short name (custom ones get their prefix on output).
    claims: Mapping[str, str | bool | int] = field(default_factory=lambda: _EMPTY)
    # Per-attribute messages (the authentication-extension contract shows them by field).
    attribute_errors: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # Whether the caller changed nothing and may simply retry (internal failures).
    retryable: bool = False

    @classmethod
    def proceed(
        cls, claims: Mapping[str, str | bool | int] | None = None, rule: str = "default"
    ) -> Decision:
        return cls(Action.CONTINUE, rule, claims=MappingProxyType(dict(claims or {})))

    @classmethod
    def block(cls, rule: str, message: str) -> Decision:
        return cls(Action.BLOCK, rule, message)

    @classmethod
    def invalid(
        cls, rule: str, message: str, attribute_errors: Mapping[str, str] | None = None
    ) -> Decision:
        return cls(
            Action.VALIDATION_ERROR,
            rule,
            message,
            attribute_errors=MappingProxyType(dict(attribute_errors or {})),
        )
