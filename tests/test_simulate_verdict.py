"""The verdict: every contract check fires on a crafted answer, and valid answers pass cleanly."""

from __future__ import annotations

import json

import pytest

from app.simulate import steps
from app.simulate.transport import Answer
from app.simulate.verdict import judge

FED, ATTR, TOKEN = steps.FEDERATION, steps.ATTRIBUTES, steps.TOKEN
START, SUBMIT = steps.START, steps.SUBMIT
EXT = steps.AUTH_EXTENSION
JSON_CT = "application/json"


def answer(
    status: int, body: object, content_type: str | None = JSON_CT, elapsed: float = 0.01
) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = (("Content-Type", content_type),) if content_type else ()
    return Answer(status, "reason", headers, raw, elapsed)


CONTINUE = {"version": "1.0.0", "action": "Continue"}
BLOCK = {"version": "1.0.0", "action": "ShowBlockPage", "userMessage": "No."}
VALIDATION = {"version": "1.0.0", "status": 400, "action": "ValidationError", "userMessage": "Fix."}


def ext(event: str, action: dict[str, object], odata: str | None = None) -> dict[str, object]:
    name = event[0].upper() + event[1:]
    return {
        "data": {
            "@odata.type": odata or f"microsoft.graph.on{name}ResponseData",
            "actions": [action],
        }
    }


def start(name: str, **fields: object) -> dict[str, object]:
    action = {"@odata.type": f"microsoft.graph.attributeCollectionStart.{name}", **fields}
    return ext("attributeCollectionStart", action)


def submit(name: str, **fields: object) -> dict[str, object]:
    action = {"@odata.type": f"microsoft.graph.attributeCollectionSubmit.{name}", **fields}
    return ext("attributeCollectionSubmit", action)


VALID = [
    (200, CONTINUE, FED, "Continue"),
    (
        200,
        {
            **CONTINUE,
            "givenName": "Ada",
            "extension_ab12_Tier": "gold",
            "extension_ab12_On": True,
            "extension_ab12_Year": 2010,
        },
        ATTR,
        "Continue",
    ),
    (200, BLOCK, FED, "ShowBlockPage"),
    (200, BLOCK, None, "ShowBlockPage"),
    (400, VALIDATION, ATTR, "ValidationError"),
    (400, {**VALIDATION, "status": "400"}, ATTR, "ValidationError"),  # docs: Integer / String
]


@pytest.mark.parametrize(("status", "body", "step", "action"), VALID)
def test_valid_connector_answers_have_no_findings(
    status: int, body: object, step: str | None, action: str
) -> None:
    verdict = judge(answer(status, body), step=step)
    assert verdict.action == action
    assert verdict.findings == ()


EXT_VALID = [
    (START, start("continueWithDefaultBehavior"), "continueWithDefaultBehavior"),
    (START, start("setPrefillValues", inputs={"city": "Paris"}), "setPrefillValues"),
    (START, start("showBlockPage", message="No."), "showBlockPage"),
    (
        SUBMIT,
        submit("modifyAttributeValues", attributes={"city": "Paris"}),
        "modifyAttributeValues",
    ),
    (
        SUBMIT,
        submit("showValidationError", message="Fix.", attributeErrors={"city": "x"}),
        "showValidationError",
    ),
    (None, submit("showBlockPage", message="No."), "showBlockPage"),
]


@pytest.mark.parametrize(("step", "body", "action"), EXT_VALID)
def test_valid_extension_answers_have_no_findings(
    step: str | None, body: object, action: str
) -> None:
    verdict = judge(answer(200, body), step=step, contract=EXT)
    assert verdict.action == action
    assert verdict.findings == ()


# (status, body, step, content type, expected check, words in the message)
CONNECTOR_VIOLATIONS = [
    (500, CONTINUE, ATTR, JSON_CT, "status.5xx", "got HTTP 500"),
    (502, b"Bad gateway", ATTR, "text/html", "status.5xx", "generic error"),
    (401, {"title": "x"}, ATTR, "application/problem+json", "status.unexpected", "credentials"),
    (404, b"", ATTR, None, "status.unexpected", "expected HTTP 200 or 400, got 404"),
    (302, b"", ATTR, None, "status.unexpected", "got 302"),
    (200, CONTINUE, ATTR, "text/html", "content-type", "got text/html"),
    (200, CONTINUE, ATTR, None, "content-type", "got none"),
    (200, b"<html>oops</html>", ATTR, JSON_CT, "body.json", "unparseable"),
    (
        200,
        b'{"version": "1.0.0", "action": "Contin\xffue"}',
        ATTR,
        JSON_CT,
        "body.json",
        "unparseable",
    ),
    (200, [CONTINUE], ATTR, JSON_CT, "body.object", "got list"),
    (200, {"action": "Continue"}, ATTR, JSON_CT, "version", "got None"),
    (200, {**CONTINUE, "version": 1}, ATTR, JSON_CT, "version", "got 1"),
    (200, {"version": "1.0.0"}, ATTR, JSON_CT, "action.missing", "got none"),
    (200, {**CONTINUE, "action": "continue"}, ATTR, JSON_CT, "action.unknown", "'continue'"),
    (200, {**CONTINUE, "action": "Block"}, ATTR, JSON_CT, "action.unknown", "'Block'"),
    (400, CONTINUE, ATTR, JSON_CT, "continue.status", "got 400"),
    (200, {**CONTINUE, "city": None}, ATTR, JSON_CT, "continue.claim-type", "city"),
    (200, {**CONTINUE, "roles": ["a"]}, ATTR, JSON_CT, "continue.claim-type", "got list"),
    (200, {**CONTINUE, "score": 1.5}, ATTR, JSON_CT, "continue.claim-type", "got float"),
    (
        200,
        {**CONTINUE, "extension_ab_Notes": "n" * 251},
        ATTR,
        JSON_CT,
        "continue.claim-length",
        "got 251",
    ),
    (400, BLOCK, ATTR, JSON_CT, "block.status", "got 400"),
    (200, {**BLOCK, "userMessage": ""}, ATTR, JSON_CT, "block.message", "userMessage"),
    (
        200,
        {"version": "1.0.0", "action": "ShowBlockPage"},
        ATTR,
        JSON_CT,
        "block.message",
        "userMessage",
    ),
    (200, VALIDATION, ATTR, JSON_CT, "validation.status", "got 200"),
    (400, {**VALIDATION, "status": 401}, ATTR, JSON_CT, "validation.body-status", "got 401"),
    (
        400,
        {k: v for k, v in VALIDATION.items() if k != "status"},
        ATTR,
        JSON_CT,
        "validation.body-status",
        "got None",
    ),
    (400, {**VALIDATION, "userMessage": "  "}, ATTR, JSON_CT, "validation.message", "userMessage"),
    (400, VALIDATION, FED, JSON_CT, "validation.step", "at post-federation-signup"),
    (400, VALIDATION, TOKEN, JSON_CT, "validation.step", "at pre-token-issuance"),
    (400, VALIDATION, None, JSON_CT, "validation.step", "at an unknown step"),
]


@pytest.mark.parametrize(
    ("status", "body", "step", "ctype", "check", "words"), CONNECTOR_VIOLATIONS
)
def test_each_connector_check_fires(
    status: int, body: object, step: str | None, ctype: str | None, check: str, words: str
) -> None:
    verdict = judge(answer(status, body, ctype), step=step)
    found = {f.check: f for f in verdict.violations}
    assert check in found, verdict.findings
    assert words in found[check].message


EXTENSION_VIOLATIONS = [
    (
        400,
        submit("showValidationError", message="x", attributeErrors={}),
        SUBMIT,
        "status.unexpected",
        "expected HTTP 200, got 400",
    ),
    (200, {"actions": []}, SUBMIT, "ext.data", "got NoneType"),
    (
        200,
        ext("attributeCollectionSubmit", {"@odata.type": "x"}, odata="microsoft.graph.other"),
        SUBMIT,
        "ext.odata-type",
        "'microsoft.graph.other'",
    ),
    (
        200,
        {
            "data": {
                "@odata.type": "microsoft.graph.onAttributeCollectionSubmitResponseData",
                "actions": [],
            }
        },
        SUBMIT,
        "ext.actions",
        "exactly one",
    ),
    (
        200,
        {
            "data": {
                "@odata.type": "microsoft.graph.onAttributeCollectionSubmitResponseData",
                "actions": [{}, {}],
            }
        },
        SUBMIT,
        "ext.actions",
        "exactly one",
    ),
    (
        200,
        submit("continueWithDefaultBehavior"),
        START,
        "ext.odata-type",
        "onAttributeCollectionStart",
    ),
    (
        200,
        ext("attributeCollectionSubmit", {"@odata.type": "microsoft.graph.somethingElse"}),
        SUBMIT,
        "ext.action-type",
        "'microsoft.graph.somethingElse'",
    ),
    (
        200,
        start("showValidationError", message="x", attributeErrors={}),
        START,
        "ext.action-step",
        "'showValidationError'",
    ),
    (200, submit("setPrefillValues", inputs={}), SUBMIT, "ext.action-step", "'setPrefillValues'"),
    (200, submit("showBlockPage"), SUBMIT, "ext.action-fields", '"message"'),
    (
        200,
        submit("showValidationError", message="x"),
        SUBMIT,
        "ext.action-fields",
        "attributeErrors",
    ),
    (200, start("setPrefillValues"), START, "ext.action-fields", '"inputs"'),
    (
        200,
        submit("modifyAttributeValues", attributes=[]),
        SUBMIT,
        "ext.action-fields",
        "attributes",
    ),
]


@pytest.mark.parametrize(("status", "body", "step", "check", "words"), EXTENSION_VIOLATIONS)
def test_each_extension_check_fires(
    status: int, body: object, step: str, check: str, words: str
) -> None:
    verdict = judge(answer(status, body), step=step, contract=EXT)
    found = {f.check: f for f in verdict.violations}
    assert check in found, verdict.findings
    assert words in found[check].message


def test_timeout_is_a_violation_and_a_slow_answer_a_warning() -> None:
    late = judge(answer(200, CONTINUE, elapsed=2.5), step=ATTR, timeout=2.0)
    assert [(f.check, f.severity) for f in late.findings] == [("time.timeout", "violation")]
    assert "within 2 s, took 2.50 s" in late.findings[0].message
    slow = judge(answer(200, CONTINUE, elapsed=1.2), step=ATTR, timeout=2.0)
    assert [(f.check, f.severity) for f in slow.findings] == [("time.slow", "warning")]
    # A small timeout scales the warning threshold down with it.
    assert judge(answer(200, CONTINUE, elapsed=0.2), step=ATTR, timeout=0.3).findings[0].check == (
        "time.slow"
    )


def test_warnings_that_are_not_violations() -> None:
    problem = judge(answer(200, CONTINUE, "application/vnd.custom+json"), step=ATTR)
    assert [(f.check, f.severity) for f in problem.findings] == [("content-type", "warning")]
    email = judge(answer(200, {**CONTINUE, "email": "x@y.example"}), step=TOKEN)
    assert [(f.check, f.severity) for f in email.findings] == [("continue.email", "warning")]
    assert "cannot be overwritten" in email.findings[0].message


def test_blocking_property_separates_continue_from_blocks() -> None:
    assert judge(answer(200, BLOCK), step=ATTR).blocking
    assert judge(answer(400, VALIDATION), step=ATTR).blocking
    assert not judge(answer(200, CONTINUE), step=ATTR).blocking
    assert judge(
        answer(200, submit("showBlockPage", message="x")), step=SUBMIT, contract=EXT
    ).blocking
    assert not judge(
        answer(200, submit("continueWithDefaultBehavior")), step=SUBMIT, contract=EXT
    ).blocking
