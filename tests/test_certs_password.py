"""Passwords come from an environment variable or a terminal prompt, never from argv."""

from __future__ import annotations

import pytest

import app.certs.password as password_module
from app.certs.password import read_password
from app.errors import ToolError


@pytest.fixture
def terminal(monkeypatch):
    """A fake terminal: answers are consumed in order."""
    answers: list[str] = []
    monkeypatch.setattr(password_module, "_interactive", lambda: True)
    monkeypatch.setattr(password_module.getpass, "getpass", lambda prompt: answers.pop(0))
    return answers


def test_environment_wins_over_the_prompt(terminal):
    terminal.append("typed")
    assert (
        read_password("PW", {"PW": "from env ünïcode"}, prompt="p") == "from env ünïcode".encode()
    )
    assert terminal == ["typed"]  # never asked


def test_prompt_when_unset_and_new_passwords_are_typed_twice(terminal):
    terminal += ["a long new password", "a long new password"]
    assert read_password("PW", {}, prompt="p", new=True) == b"a long new password"
    terminal += ["existing"]
    assert read_password("PW", {}, prompt="p") == b"existing"


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        (["a long new password", "a long new passwort"], "the two passwords differ"),
        (["", ""], "the password is empty"),
        (
            ["short", "short"],
            "too short for a new password: expected at least 12 characters, got 5",
        ),
    ],
    ids=["differ", "empty", "short"],
)
def test_prompt_rejections(terminal, answers, why):
    terminal += answers
    with pytest.raises(ToolError, match=why):
        read_password("PW", {}, prompt="p", new=True)


def test_no_terminal_and_no_variable_says_what_to_set(monkeypatch):
    monkeypatch.setattr(password_module, "_interactive", lambda: False)
    with pytest.raises(ToolError, match="no password: set MY_PFX_PW"):
        read_password("MY_PFX_PW", {}, prompt="p")
