"""A client certificate forwarded by a TLS-terminating front end, and whose word to take for it.

Formats seen in the wild, all accepted:
- base64 DER: App Service's `X-ARR-ClientCert`, APIM `set-header` with `RawData`;
- RFC 9440 `Client-Cert`: base64 DER between colons;
- PEM, with its line breaks turned into spaces or tabs by the proxy;
- URL-escaped PEM: nginx `$ssl_client_escaped_cert`.
A PEM value may carry the issuing chain after the leaf; those certificates are only
candidates for chain building, never trusted for being there.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509

from app.auth.principal import Environ
from app.errors import CertificateError

# gunicorn limits one header to 8190 bytes; a certificate chain larger than this is not one.
MAX_HEADER_CHARS = 16384
MAX_CERTIFICATES = 4
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
_EXPECTED = "expected base64 DER, PEM or URL-escaped PEM"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Forwarded:
    """The leaf a front end forwarded, the DER it came as, and any chain sent with it."""

    leaf: x509.Certificate
    der: bytes
    intermediates: tuple[x509.Certificate, ...] = ()


def environ_key(header: str) -> str:
    """The WSGI environ key of an HTTP header (`X-ARR-ClientCert` -> `HTTP_X_ARR_CLIENTCERT`)."""
    return "HTTP_" + header.upper().replace("-", "_")


def parse_forwarded(value: str, header: str) -> Forwarded | None:
    """The certificate in a header value; None when empty; CertificateError when malformed."""
    text = value.strip()
    if not text:
        return None  # nginx sends an empty value when the client presented nothing
    if len(text) > MAX_HEADER_CHARS:
        raise _malformed(header, f"{len(text)} characters, over the limit of {MAX_HEADER_CHARS}")
    if "%" in text:
        text = unquote(text)  # undecodable escapes become U+FFFD and fail as base64 below
    blocks = _PEM_BLOCK.findall(text)
    if blocks:
        ders = [_b64(_WHITESPACE.sub("", b), header, "a PEM block") for b in blocks]
    elif "-----" in text:
        raise _malformed(header, "a PEM marker without a complete certificate block")
    else:
        ders = [_b64(_WHITESPACE.sub("", text).strip(":"), header, "the value")]
    if len(ders) > MAX_CERTIFICATES:
        raise _malformed(header, f"{len(ders)} certificates, at most {MAX_CERTIFICATES} expected")
    certs = [_der(d, header) for d in ders]
    return Forwarded(certs[0], ders[0], tuple(certs[1:]))


def _b64(text: str, header: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(header, f"{what} is not valid base64 ({_preview(text)})") from exc
    if not data:
        raise _malformed(header, f"{what} decodes to nothing")
    return data


def _der(data: bytes, header: str) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(data)
        # Touch the parts every policy reads, so a damaged certificate fails here, as a 403.
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc, cert.extensions
    except ValueError as exc:
        raise _malformed(
            header, f"base64 of {len(data)} bytes that are not a DER certificate"
        ) from exc
    return cert


def _preview(text: str) -> str:
    # Enough to recognise what arrived, never a whole certificate (SPEC §3: no full cert in logs).
    return repr(text[:16] + ("..." if len(text) > 16 else ""))


def _malformed(header: str, got: str) -> CertificateError:
    return CertificateError(f"malformed forwarded header {header}: {_EXPECTED}, got {got}")


class ProxyTrust:
    """Which direct peers may vouch for a forwarded certificate (checked on the socket address)."""

    def __init__(self, cidrs: Sequence[str], any_peer: bool) -> None:
        self._networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(c, strict=False) for c in cidrs
        )
        self.any_peer = any_peer

    def trusts(self, peer: str | None) -> bool:
        """True when `peer` (an IP address, or None if unknown) may set the header."""
        if self.any_peer:
            return True
        address = _address(peer)
        if address is None:
            return False
        return any(address in network for network in self._networks)


def _address(peer: str | None) -> Address | None:
    if not peer:
        return None  # a Unix socket, or no socket at all: nobody we can name
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return address


def peer_address(environ: Environ) -> str | None:
    """The direct peer's IP: from the connection's socket, never from X-Forwarded-For.

    REMOTE_ADDR is used only when the server gave no socket (tests, other WSGI servers);
    under gunicorn it could be rewritten by the PROXY protocol.
    """
    sock = environ.get("gunicorn.socket")
    if sock is None:
        remote = environ.get("REMOTE_ADDR")
        return str(remote) if remote else None
    try:
        name = sock.getpeername()
    except (OSError, AttributeError):
        return None
    return str(name[0]) if isinstance(name, tuple) and name else None
