"""A finding: one check's id, its severity and a message saying expected vs. got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["violation", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One observation: a check id, how bad it is, and expected vs. got in words."""

    check: str
    severity: Severity
    message: str


def violation(check: str, message: str) -> Finding:
    """A finding that breaks the contract (any one makes conformance fail)."""
    return Finding(check, "violation", message)
