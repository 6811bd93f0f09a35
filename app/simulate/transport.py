"""One HTTP(S) exchange with the standard library, timed the way Entra experiences it."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from app.errors import ToolError

ErrorKind = Literal["connect", "verify", "tls", "timeout", "reset", "protocol"]
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Answer:
    """The endpoint's HTTP answer; elapsed covers connect, handshake, request and the whole body."""

    status: int
    reason: str
    headers: Headers
    body: bytes
    elapsed: float

    def header(self, name: str) -> str | None:
        """The first header of that name, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True)
class Exchange:
    """A request and either its answer or why there was none."""

    url: str
    headers: Headers
    body: bytes
    answer: Answer | None
    error: str | None = None
    error_kind: ErrorKind | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: parsed once so every probe hits exactly the same place."""

    url: str
    https: bool
    host: str
    port: int
    target: str  # path and query, as sent on the request line


def endpoint(url: str) -> Endpoint:
    """Parse and check an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"expected an http:// or https:// URL with a host, got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ToolError(f"expected a numeric port in {url!r}") from exc
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(url, parts.scheme == "https", parts.hostname, port, target)


def send(
    where: Endpoint,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    *,
    tls: ssl.SSLContext | None,
    timeout: float,
    method: str = "POST",
) -> Exchange:
    """Send one request on a fresh connection, as Entra does, and read the whole answer."""
    conn: http.client.HTTPConnection
    if where.https:
        conn = http.client.HTTPSConnection(where.host, where.port, timeout=timeout, context=tls)
    else:
        conn = http.client.HTTPConnection(where.host, where.port, timeout=timeout)
    sent = (*headers, ("Content-Length", str(len(body))))
    started = time.perf_counter()

    def failed(kind: ErrorKind, exc: BaseException) -> Exchange:
        detail = str(exc) or type(exc).__name__
        return Exchange(where.url, sent, body, None, detail, kind, time.perf_counter() - started)

    try:
        try:
            conn.putrequest(method, where.target, skip_accept_encoding=True)
            for name, value in sent:
                conn.putheader(name, value)
            conn.endheaders(body)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before reading a large body: read the answer.
            pass
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        answer = Answer(
            response.status, response.reason, tuple(response.getheaders()), data, elapsed
        )
        return Exchange(where.url, sent, body, answer, elapsed=elapsed)
    except TimeoutError as exc:
        return failed("timeout", exc)
    except ssl.SSLCertVerificationError as exc:
        return failed("verify", exc)  # we could not verify the server: a setup problem
    except ssl.SSLError as exc:
        return failed("tls", exc)
    except ConnectionRefusedError as exc:
        return failed("connect", exc)
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
        return failed("reset", exc)
    except http.client.HTTPException as exc:
        return failed("protocol", exc)
    except OSError as exc:
        return failed("connect", exc)
    finally:
        conn.close()
