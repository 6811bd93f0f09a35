"""The structured log: valid JSON on every line, whatever the values, and no full email."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import logs
from tests.support import basic

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


def test_step_and_action_are_logged_as_their_contract_names(
    client: FlaskClient, capfd: pytest.CaptureFixture[str]
) -> None:
    from app.contract.model import Step
    from app.decision import Action

    good = {"email": "a@contoso.com", "postalCode": "12345"}
    cases = [
        ("/api/connector/pre-token-issuance", b"not json", Step.PRE_TOKEN_ISSUANCE, Action.BLOCK),
        ("/api/connector", json.dumps(good).encode(), Step.UNKNOWN, Action.CONTINUE),
    ]
    for url, body, step, action in cases:
        headers = {**basic(), "Content-Type": "application/json"}
        client.post(url, data=body, headers=headers)
        lines = capfd.readouterr().err.strip().splitlines()
        entry = json.loads([line for line in lines if '"event":"decision"' in line][-1])
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


HEAD = ("api_connector", "post-attribute-collection", "Continue", "default", 200, "basic")


def test_lines_from_many_threads_never_interleave(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import threading

    logs.configure()
    with (tmp_path / "err.log").open("w") as sink:
        monkeypatch.setattr(sys, "stderr", sink)

        def burst(n: int) -> None:
            for i in range(300):
                # Some lines longer than PIPE_BUF take the locked path.
                reason = "x" * (5000 if i % 50 == 0 else n)
                logs.decision((f"{n}-{i}", *HEAD, "subject", 1.0), {"reason": reason})
                # Events go through logging's handler and the text stream, to the same file.
                logs.event(logging.WARNING, "test.event", correlation_id=f"e{n}-{i}")

        threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = (tmp_path / "err.log").read_text().splitlines()
    ids = [json.loads(line)["correlation_id"] for line in lines]
    expected = [f"{p}{n}-{i}" for p in ("", "e") for n in range(8) for i in range(300)]
    assert sorted(ids) == sorted(expected)


def test_an_in_memory_stderr_gets_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    logs.configure()
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    logs.decision(("c2", *HEAD, "subject", 1.0))
    assert json.loads(buffer.getvalue())["correlation_id"] == "c2"


def test_a_broken_stderr_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    class Broken:
        def fileno(self) -> int:
            raise OSError("closed")

        def write(self, text: str) -> int:
            raise OSError("broken pipe")

        def flush(self) -> None:
            raise OSError("broken pipe")

    logs.configure()
    monkeypatch.setattr(sys, "stderr", Broken())
    logs.decision(("c3", *HEAD, "subject", 1.0))  # must return: the answer matters more
