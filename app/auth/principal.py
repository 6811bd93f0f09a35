"""Who the caller proved to be, and the interface every authentication method implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Environ = Mapping[str, Any]


@dataclass(frozen=True)
class Principal:
    method: str  # "basic", "certificate", "api_key", "entra_token", "none"
    subject: str  # user name, certificate subject, client id; never a secret
    thumbprint: str | None = None  # SHA-256 of the client certificate, when one was used
    days_left: int | None = None  # until the client certificate expires
    extra: tuple[tuple[str, str], ...] = ()  # small facts worth logging


class AuthMethod(Protocol):
    """One way to authenticate.

    ``authenticate`` returns None when the request carries no credential of this kind,
    a Principal when it proves the caller, and raises AuthenticationError (401) or
    CertificateError (403) when the credential is present but wrong. It reads only the
    WSGI environ's headers, peer address and TLS socket, never the body.
    """

    name: str

    def authenticate(self, environ: Environ) -> Principal | None: ...
