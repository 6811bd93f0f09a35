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
