"""Helpers shared by the rules: step applicability and message lookup."""

from __future__ import annotations

from collections.abc import Mapping

from app.config.model import Config
from app.contract.model import SignupRequest, Step
from app.rules.messages import message_for


def applies(steps: tuple[str, ...], step: Step) -> bool:
    """Empty means every step; an unknown step runs every rule (fail closed)."""
    return not steps or step is Step.UNKNOWN or step.value in steps


def text(
    key: str, request: SignupRequest, config: Config, override: Mapping[str, str] | None = None
) -> str:
    return message_for(
        key, request.locale, config.messages.catalogue, config.messages.fallback_language, override
    )
