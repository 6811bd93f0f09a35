"""Passwords for .pfx and key files: from an environment variable or a prompt, never argv."""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Mapping

from app.errors import ToolError

DEFAULT_PASSWORD_ENV = "CONNECTOR_PFX_PASSWORD"  # noqa: S105 - a variable name
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


def read_password(
    env_name: str,
    environ: Mapping[str, str],
    *,
    prompt: str,
    confirm: bool = False,
) -> bytes:
    """The password in `env_name`, else typed at a terminal (twice when `confirm`)."""
    check_env_name(env_name)
    if env_name in environ:
        value = environ[env_name]
        if not value:
            raise ToolError(f"{env_name} is set but empty: expected a password")
        return value.encode("utf-8")
    if sys.stdin is None or not sys.stdin.isatty():
        raise ToolError(f"no password: set {env_name} (or run in a terminal to be prompted)")
    value = getpass.getpass(f"{prompt}: ")
    if not value:
        raise ToolError("empty password: expected a password")
    if confirm and getpass.getpass("Repeat it: ") != value:
        raise ToolError("the two passwords differ")
    return value.encode("utf-8")
