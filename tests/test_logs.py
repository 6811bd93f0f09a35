"""The structured log: valid JSON on every line, whatever the values, and no full email."""

from __future__ import annotations

import json

import pytest

from app import logs

HOSTILE = ['quote " back\\slash', "new\nline", "ünïcødé ✓", "\u0000ctrl", "</script>"]


@pytest.mark.parametrize("text", HOSTILE)
def test_decision_line_is_valid_json(capfd: pytest.CaptureFixture[str], text: str) -> None:
    logs.configure()
    head = (
        "abc123",
        "api_connector",
        "post-attribute-collection",
        "Continue",
        text,
        200,
        "basic",
        text,
        0.125,
    )
    logs.decision(head, {"reason": text, "email": logs.mask_email("ada@contoso.com")})
    line = capfd.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["event"] == "decision" and entry["level"] == "info"
    assert entry["rule"] == text and entry["auth_subject"] == text and entry["reason"] == text
    assert entry["status"] == 200 and entry["latency_ms"] == 0.125
    assert entry["email"] == "a***@contoso.com"


def test_enum_members_log_as_their_values(capfd: pytest.CaptureFixture[str]) -> None:
    from app.contract.model import Step
    from app.decision import Action

    logs.configure()
    for step, action in [(Step.PRE_TOKEN_ISSUANCE, Action.BLOCK), (Step.UNKNOWN, Action.CONTINUE)]:
        logs.decision(("c1", "api_connector", step, action, "default", 200, "basic", "e", 1.0))
        entry = json.loads(capfd.readouterr().err.strip().splitlines()[-1])
        assert (entry["step"], entry["action"]) == (step.value, action.value)


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("ada@contoso.com", "a***@contoso.com"),
        ("a@b.example", "a***@b.example"),
        ("@nolocal.example", "***"),
        ("", None),
        (None, None),
    ],
)
def test_mask_email(email: str | None, masked: str | None) -> None:
    assert logs.mask_email(email) == masked
