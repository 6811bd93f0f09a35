"""Judge one answer against the contract: pure functions from (step, answer) to findings."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.simulate import steps
from app.simulate.findings import Finding, violation
from app.simulate.transport import Answer
from app.simulate.verdict_extension import EXTENSION_BLOCKING, judge_extension

CONTINUE, BLOCK, VALIDATION = "Continue", "ShowBlockPage", "ValidationError"
CONNECTOR_ACTIONS = (CONTINUE, BLOCK, VALIDATION)
BLOCKING = frozenset({BLOCK, VALIDATION}) | EXTENSION_BLOCKING
_CUSTOM_STRING_MAX = 250
DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Verdict:
    """The action the answer carries (None when unreadable) and every finding about it."""

    action: str | None
    document: object
    findings: tuple[Finding, ...]

    @property
    def blocking(self) -> bool:
        """The answer stops or holds the user (never lets an unchecked sign-up through)."""
        return self.action in BLOCKING

    @property
    def violations(self) -> tuple[Finding, ...]:
        """Only the findings that break the contract."""
        return tuple(f for f in self.findings if f.severity == "violation")


_v = violation


def judge(
    answer: Answer,
    *,
    step: str | None,
    contract: str = steps.API_CONNECTOR,
    timeout: float = DEFAULT_TIMEOUT,
) -> Verdict:
    """Every way this answer breaks (or strains) the contract of `step` (None: step unknown)."""
    findings = list(timing(answer.elapsed, timeout))
    allowed = (200,) if contract == steps.AUTH_EXTENSION else (200, 400)
    if answer.status >= 500:
        findings.append(
            _v(
                "status.5xx",
                f"expected a contract answer, got HTTP {answer.status}: "
                "Entra shows the user a generic error",
            )
        )
        return Verdict(None, None, tuple(findings))
    if answer.status not in allowed:
        findings.append(_v("status.unexpected", _unexpected(answer.status, allowed)))
        return Verdict(None, None, tuple(findings))
    findings.extend(content_type(answer.header("Content-Type")))
    try:
        document: object = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        findings.append(_v("body.json", f"expected a JSON body, got unparseable bytes ({exc})"))
        return Verdict(None, None, tuple(findings))
    if not isinstance(document, dict):
        findings.append(_v("body.object", f"expected a JSON object, got {type(document).__name__}"))
        return Verdict(None, document, tuple(findings))
    if contract == steps.AUTH_EXTENSION:
        action = judge_extension(document, step, findings)
    else:
        action = _connector(document, answer.status, step, findings)
    return Verdict(action, document, tuple(findings))


def _unexpected(status: int, allowed: tuple[int, ...]) -> str:
    hint = {
        401: "Entra logs this as misconfigured connector credentials",
        403: "Entra logs this as misconfigured connector credentials",
    }.get(status, "Entra shows the user a generic error")
    wanted = " or ".join(str(s) for s in allowed)
    return f"expected HTTP {wanted}, got {status}: {hint}"


def timing(elapsed: float, timeout: float) -> tuple[Finding, ...]:
    """Slower than the strictest timeout is a violation; over half of it (max 1 s) a warning."""
    if elapsed > timeout:
        return (
            _v("time.timeout", f"expected an answer within {timeout:g} s, took {elapsed:.2f} s"),
        )
    warn = min(1.0, timeout / 2)
    if elapsed > warn:
        return (
            Finding(
                "time.slow", "warning", f"answered in {elapsed:.2f} s: keep well under {warn:g} s"
            ),
        )
    return ()


def content_type(value: str | None) -> tuple[Finding, ...]:
    """Entra parses only application/json answers."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return ()
    if media.endswith("+json"):
        return (Finding("content-type", "warning", f"expected application/json, got {media}"),)
    return (_v("content-type", f"expected Content-Type application/json, got {value or 'none'}"),)


def _message(document: dict[str, object], key: str) -> bool:
    value = document.get(key)
    return isinstance(value, str) and bool(value.strip())


def _connector(
    document: dict[str, object], status: int, step: str | None, findings: list[Finding]
) -> str | None:
    version = document.get("version")
    if not isinstance(version, str) or not version:
        findings.append(_v("version", f'expected "version" as a string ("1.0.0"), got {version!r}'))
    action = document.get("action")
    if action is None:
        findings.append(_v("action.missing", 'expected an "action", got none'))
        return None
    if action not in CONNECTOR_ACTIONS:
        findings.append(
            _v(
                "action.unknown",
                f"expected action in {', '.join(CONNECTOR_ACTIONS)}, got {action!r}",
            )
        )
        return None
    if action == CONTINUE:
        if status != 200:
            findings.append(_v("continue.status", f"expected HTTP 200 with Continue, got {status}"))
        findings.extend(_claims(document, step))
    elif action == BLOCK:
        if status != 200:
            findings.append(
                _v("block.status", f"expected HTTP 200 with ShowBlockPage, got {status}")
            )
        if not _message(document, "userMessage"):
            findings.append(_v("block.message", 'expected a non-empty "userMessage" to show'))
    else:
        if status != 400:
            findings.append(
                _v("validation.status", f"expected HTTP 400 with ValidationError, got {status}")
            )
        if document.get("status") not in (400, "400"):
            findings.append(
                _v(
                    "validation.body-status",
                    f'expected "status": 400 in the body, got {document.get("status")!r}',
                )
            )
        if not _message(document, "userMessage"):
            findings.append(_v("validation.message", 'expected a non-empty "userMessage" to show'))
        if step not in steps.VALIDATION_STEPS:
            where = step or "an unknown step"
            findings.append(
                _v(
                    "validation.step",
                    f"expected ShowBlockPage or Continue at {where}, got ValidationError "
                    f"(allowed only at {steps.ATTRIBUTES})",
                )
            )
    return str(action)


def _claims(document: dict[str, object], step: str | None) -> list[Finding]:
    """Returned claims must be String, Boolean or Int; custom strings at most 250 characters."""
    found: list[Finding] = []
    for name, value in document.items():
        if name in ("version", "action"):
            continue
        if not isinstance(value, str | bool | int):
            found.append(
                _v(
                    "continue.claim-type",
                    f"claim {name}: expected a string, boolean or integer, "
                    f"got {type(value).__name__}",
                )
            )
        elif (
            name.startswith("extension_")
            and isinstance(value, str)
            and len(value) > _CUSTOM_STRING_MAX
        ):
            found.append(
                _v(
                    "continue.claim-length",
                    f"claim {name}: expected at most 250 characters, got {len(value)}",
                )
            )
    if step == steps.TOKEN and "email" in document:
        found.append(
            Finding(
                "continue.email",
                "warning",
                "email cannot be overwritten at the token step; Entra ignores it",
            )
        )
    return found
