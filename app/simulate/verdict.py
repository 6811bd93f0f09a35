"""Judge one answer against the contract: pure functions from (step, answer) to findings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from app.simulate import steps
from app.simulate.transport import Answer

Severity = Literal["violation", "warning", "info"]

CONTINUE, BLOCK, VALIDATION = "Continue", "ShowBlockPage", "ValidationError"
CONNECTOR_ACTIONS = (CONTINUE, BLOCK, VALIDATION)
# The extension's actions per event (REFERENCE §3); the blocking ones stop or hold the user.
EXTENSION_ACTIONS = {
    steps.START: ("continueWithDefaultBehavior", "setPrefillValues", "showBlockPage"),
    steps.SUBMIT: (
        "continueWithDefaultBehavior",
        "modifyAttributeValues",
        "showValidationError",
        "showBlockPage",
    ),
}
BLOCKING = frozenset({BLOCK, VALIDATION, "showBlockPage", "showValidationError"})
_EVENT = {steps.START: "attributeCollectionStart", steps.SUBMIT: "attributeCollectionSubmit"}
_CUSTOM_STRING_MAX = 250
DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Finding:
    """One observation: a check id, how bad it is, and expected vs. got in words."""

    check: str
    severity: Severity
    message: str


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


def _v(check: str, message: str) -> Finding:
    return Finding(check, "violation", message)


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
        action = _extension(document, step, findings)
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


def _extension(
    document: dict[str, object], step: str | None, findings: list[Finding]
) -> str | None:
    data = document.get("data")
    if not isinstance(data, dict):
        findings.append(_v("ext.data", 'expected a "data" object, got ' + type(data).__name__))
        return None
    events = [step] if step in _EVENT else list(_EVENT)
    odata = data.get("@odata.type")
    expected = [
        f"microsoft.graph.on{_EVENT[e][0].upper()}{_EVENT[e][1:]}ResponseData" for e in events
    ]
    if odata not in expected:
        findings.append(
            _v(
                "ext.odata-type",
                f"expected data @odata.type {' or '.join(expected)}, got {odata!r}",
            )
        )
    actions = data.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        findings.append(
            _v("ext.actions", f'expected "actions" with exactly one object, got {actions!r}')
        )
        return None
    action_type = actions[0].get("@odata.type")
    for event in events:
        prefix = f"microsoft.graph.{_EVENT[event]}."
        if isinstance(action_type, str) and action_type.startswith(prefix):
            name = action_type.removeprefix(prefix)
            if name in EXTENSION_ACTIONS[event]:
                findings.extend(_extension_fields(name, actions[0]))
                return name
            findings.append(
                _v(
                    "ext.action-step",
                    f"expected one of {', '.join(EXTENSION_ACTIONS[event])} "
                    f"at {event}, got {name!r}",
                )
            )
            return None
    findings.append(
        _v(
            "ext.action-type",
            f"expected an action @odata.type in "
            f"microsoft.graph.{_EVENT[events[0]]}.*, got {action_type!r}",
        )
    )
    return None


_EXTENSION_FIELDS = {
    "showBlockPage": (("message", str),),
    "showValidationError": (("message", str), ("attributeErrors", dict)),
    "setPrefillValues": (("inputs", dict),),
    "modifyAttributeValues": (("attributes", dict),),
}


def _extension_fields(name: str, action: dict[str, object]) -> list[Finding]:
    found = []
    for key, kind in _EXTENSION_FIELDS.get(name, ()):
        value = action.get(key)
        if not isinstance(value, kind) or (kind is str and not str(value).strip()):
            found.append(
                _v(
                    "ext.action-fields",
                    f'{name}: expected "{key}" as {kind.__name__}, got {value!r}',
                )
            )
    return found
