"""The only place API connector answers are built: Continue, ShowBlockPage, ValidationError."""

from __future__ import annotations

from collections.abc import Mapping

from app.contract.model import BUILTIN_CLAIMS, Step, Value
from app.decision import Action, Decision

Answer = tuple[int, dict[str, object]]


def output_name(name: str, prefix: str) -> str:
    """Built-in claims keep their Graph name; custom ones get the configured extension prefix."""
    return name if name in BUILTIN_CLAIMS else prefix + name


def continue_answer(claims: Mapping[str, Value], version: str, prefix: str, step: Step) -> Answer:
    body: dict[str, object] = {"version": version, "action": "Continue"}
    for name, value in claims.items():
        # The token step cannot overwrite email; returning it would be ignored or rejected.
        if name == "email" and step is Step.PRE_TOKEN_ISSUANCE:
            continue
        body[output_name(name, prefix)] = value
    return 200, body


def block_answer(message: str, version: str, status: int = 200) -> Answer:
    return status, {"version": version, "action": "ShowBlockPage", "userMessage": message}


def validation_answer(message: str, version: str) -> Answer:
    return 400, {
        "version": version,
        "status": 400,
        "action": "ValidationError",
        "userMessage": message,
    }


def render(decision: Decision, step: Step, version: str, prefix: str) -> Answer:
    """Render a Decision; ValidationError where the step forbids it becomes ShowBlockPage."""
    if decision.action is Action.CONTINUE:
        return continue_answer(decision.claims, version, prefix, step)
    if decision.action is Action.VALIDATION_ERROR and step.allows_validation_error:
        return validation_answer(decision.message, version)
    return block_answer(decision.message, version)


def effective_action(decision: Decision, step: Step) -> Action:
    """The action the caller actually receives (for the decision log)."""
    if decision.action is Action.VALIDATION_ERROR and not step.allows_validation_error:
        return Action.BLOCK
    return decision.action
