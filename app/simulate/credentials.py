"""Credentials the simulator presents: secrets come from the environment or a prompt, never argv."""

from __future__ import annotations

import base64
import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.errors import ToolError

BASIC_PASSWORD_ENV = "CONNECTOR_BASIC_PASSWORD"  # noqa: S105 (a variable name, not a secret)
PFX_PASSWORD_ENV = "CONNECTOR_PFX_PASSWORD"  # noqa: S105 (a variable name, not a secret)
KEY_PASSWORD_ENV = "CONNECTOR_KEY_PASSWORD"  # noqa: S105 (a variable name, not a secret)
BEARER_TOKEN_ENV = "CONNECTOR_BEARER_TOKEN"  # noqa: S105 (a variable name, not a secret)


def read_secret(env_name: str, prompt: str, environ: Mapping[str, str] | None = None) -> str:
    """A secret from `env_name`, else typed at a prompt; never from the command line."""
    env = os.environ if environ is None else environ
    value = env.get(env_name)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise ToolError(
            f"expected the secret in environment variable {env_name} (no terminal to ask)"
        )
    return getpass.getpass(prompt)


def basic_header(username: str, password: str, scheme: str = "Basic") -> str:
    """An RFC 7617 Authorization value (UTF-8 before base64, as the RFC's charset advertises)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"{scheme} {token}"


@dataclass(frozen=True)
class Basic:
    """A basic-auth username and password; the password never appears in repr."""

    username: str
    password: str = field(repr=False)

    def header(self, scheme: str = "Basic") -> str:
        """The Authorization value for these credentials."""
        return basic_header(self.username, self.password, scheme)


@dataclass(frozen=True)
class Bearer:
    """A bearer token for the authentication-extension contract; never appears in repr."""

    token: str = field(repr=False)

    def header(self) -> str:
        """The Authorization value for this token."""
        return f"Bearer {self.token}"


def redact(name: str, value: str) -> str:
    """A header value safe to print: credentials keep only their scheme."""
    if name.lower() != "authorization":
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} ***" if rest else "***"
