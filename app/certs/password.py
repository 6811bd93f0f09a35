"""Passwords for .pfx and key files: from an environment variable or a prompt, never argv."""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Mapping

from app.errors import ToolError

DEFAULT_PASSWORD_ENV = "CONNECTOR_PFX_PASSWORD"  # noqa: S105 - a variable name
# New passwords protect a key that leaves the machine (uploaded to Entra); an old .pfx is
# opened with whatever password it has.
MIN_NEW_LENGTH = 12
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(name: str, option: str = "--password-env") -> str:
    """`name` when it can be an environment variable name; the value is never echoed back."""
    if not _ENV_NAME.fullmatch(name):
        # Someone may have typed the password itself here: do not repeat it.
        raise ToolError(
            f"{option} expects the NAME of an environment variable (letters, "
            "digits, underscore), not a password"
        )
    return name


def password_available(env_name: str, environ: Mapping[str, str]) -> bool:
    """Whether read_password can get one without failing: set in the environment, or a terminal."""
    return env_name in environ or _interactive()


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def read_password(
    env_name: str,
    environ: Mapping[str, str],
    *,
    prompt: str,
    new: bool = False,
) -> bytes:
    """The password in `env_name`, else typed at a terminal; a `new` one is typed twice."""
    check_env_name(env_name)
    if env_name in environ:
        value = environ[env_name]
        source = env_name
    elif _interactive():
        value = getpass.getpass(f"{prompt}: ")
        source = "the password"
        if new and value and getpass.getpass("Repeat it: ") != value:
            raise ToolError("the two passwords differ")
    else:
        raise ToolError(f"no password: set {env_name} (or run in a terminal to be prompted)")
    if not value:
        raise ToolError(f"{source} is empty: expected a password")
    if new and len(value) < MIN_NEW_LENGTH:
        raise ToolError(
            f"{source} is too short for a new password: expected at least "
            f"{MIN_NEW_LENGTH} characters, got {len(value)}"
        )
    return value.encode("utf-8")
