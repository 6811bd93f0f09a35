"""Probe expectations on crafted exchanges: the branches real servers rarely take."""

from __future__ import annotations

import json

import pytest

from app.simulate import steps
from app.simulate.expect import assess
from app.simulate.probes import Expect, Probe
from app.simulate.transport import Answer, ErrorKind, Exchange

BLOCK = {"version": "1.0.0", "action": "ShowBlockPage", "userMessage": "No."}
CONTINUE = {"version": "1.0.0", "action": "Continue"}
VALIDATION = {"version": "1.0.0", "status": 400, "action": "ValidationError", "userMessage": "x"}


def probe(expect: Expect, pid: str = "p", step: str | None = steps.ATTRIBUTES) -> Probe:
    return Probe(pid, "the probe", step, expect, b"{}")


def answered(
    status: int, body: object = b"", headers: tuple[tuple[str, str], ...] = ()
) -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if not isinstance(body, bytes):
        headers = (("Content-Type", "application/json"), *headers)
    return Exchange("http://x/", (), b"{}", Answer(status, "r", headers, raw, 0.01))


def failed(kind: ErrorKind) -> Exchange:
    return Exchange("http://x/", (), b"{}", None, f"{kind} happened", kind, 0.01)


def checks(
    p: Probe, exchange: Exchange, reference: Exchange | None = None
) -> list[tuple[str, str]]:
    _, findings = assess(
        p, exchange, contract=steps.API_CONNECTOR, timeout=2.0, reference=reference
    )
    return [(f.check, f.severity) for f in findings]


@pytest.mark.parametrize(
    ("expect", "pid", "kind", "expected"),
    [
        (Expect.REJECT, "auth.none", "tls", []),
        (Expect.REJECT, "auth.none", "reset", []),
        (Expect.REJECT, "auth.none", "timeout", [("time.timeout", "violation")]),
        (Expect.MALFORMED, "body.oversized", "reset", [("malformed.no-answer", "warning")]),
        (Expect.MALFORMED, "body.not-json", "reset", [("malformed.no-answer", "violation")]),
        (Expect.SERVE, "valid.full", "reset", [("transport.error", "violation")]),
        (Expect.SERVE, "valid.full", "protocol", [("transport.error", "violation")]),
        (Expect.SERVE, "valid.full", "tls", [("transport.tls", "violation")]),
    ],
)
def test_no_answer(
    expect: Expect, pid: str, kind: ErrorKind, expected: list[tuple[str, str]]
) -> None:
    assert checks(probe(expect, pid), failed(kind)) == expected


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (415, b"Unsupported", []),
        (413, b"too big", []),
        (403, b"", []),
        (404, b"Not found", [("malformed.status", "warning")]),
        (302, b"", [("malformed.status", "violation")]),
        (503, b"", [("malformed.5xx", "violation")]),
        (200, CONTINUE, [("malformed.continue", "violation")]),
        (400, {"error": "bad"}, [("malformed.noncontract-400", "violation")]),
        (400, VALIDATION, []),
    ],
)
def test_malformed_body_answers(status: int, body: object, expected: list[tuple[str, str]]) -> None:
    assert checks(probe(Expect.MALFORMED), answered(status, body)) == expected


def test_malformed_validation_error_where_forbidden_is_a_step_violation_not_a_noncontract_400() -> (
    None
):
    found = checks(probe(Expect.MALFORMED, step=steps.FEDERATION), answered(400, VALIDATION))
    assert found == [("validation.step", "violation")]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, b"", (("WWW-Authenticate", "Basic"),), []),
        (401, b"", (), [("auth.challenge", "warning")]),
        (403, b"", (), []),
        (200, BLOCK, (), [("auth.served", "violation")]),
        (400, VALIDATION, (), [("auth.served", "violation")]),
        (400, b"bad request", (), [("auth.status", "violation")]),
        (302, b"", (), [("auth.status", "violation")]),
        (500, b"", (), [("auth.crash", "violation")]),
    ],
)
def test_rejection_answers(
    status: int, body: object, headers: tuple[tuple[str, str], ...], expected: list[tuple[str, str]]
) -> None:
    assert checks(probe(Expect.REJECT), answered(status, body, headers)) == expected


def test_refused_valid_credentials_say_which_probe() -> None:
    _, findings = assess(
        Probe("auth.lowercase-scheme", "the scheme written 'basic'", None, Expect.ACCEPT, b"{}"),
        answered(401, b""),
        contract=steps.API_CONNECTOR,
        timeout=2.0,
    )
    assert [f.check for f in findings] == ["auth.accepted"]
    assert "the scheme written 'basic': expected it to be served, got 401" in findings[0].message


def test_block_expectation() -> None:
    assert checks(probe(Expect.BLOCK), answered(200, CONTINUE)) == [
        ("rules.not-blocked", "violation")
    ]
    assert checks(probe(Expect.BLOCK), answered(200, BLOCK)) == []
    assert checks(probe(Expect.BLOCK), answered(400, VALIDATION)) == []


def test_replay_compares_status_and_body() -> None:
    p = probe(Expect.SERVE)
    assert checks(p, answered(200, CONTINUE), reference=answered(200, CONTINUE)) == []
    # Key order and whitespace do not matter: the JSON value does.
    same = answered(
        200, b'{"action": "Continue", "version": "1.0.0"}', (("Content-Type", "application/json"),)
    )
    assert checks(p, same, reference=answered(200, CONTINUE)) == []
    _, findings = assess(
        p,
        answered(200, BLOCK),
        contract=steps.API_CONNECTOR,
        timeout=2.0,
        reference=answered(200, CONTINUE),
    )
    assert [f.check for f in findings] == ["replay.differs"]
    assert "got 200" in findings[0].message and "ShowBlockPage" in findings[0].message
