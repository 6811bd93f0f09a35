"""The service's one error root and its HTTP-carrying subclasses."""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error this project raises on purpose."""

    status: int = 500


class ConfigError(ConnectorError):
    """The configuration is unusable; the message names the file, the key and the problem."""

    status = 500


class AuthenticationError(ConnectorError):
    """The caller did not prove who it is (401); the message is for the log only."""

    status = 401


class CertificateError(ConnectorError):
    """A client certificate was presented but rejected (403); the message is for the log only."""

    status = 403


class RequestError(ConnectorError):
    """An authenticated request the contract cannot use (answered with a blocking contract body)."""

    status = 400


class PayloadTooLarge(RequestError):
    """The body exceeds the configured limit (413, decided before parsing)."""

    status = 413


class StoreError(ConnectorError):
    """The store is unreachable, slow or refused an operation (fail closed, retryable)."""

    status = 503


class ToolError(ConnectorError):
    """A command-line tool cannot do what it was asked; printed as one line, exit non-zero."""

    status = 2
