"""HTTPS client-certificate authentication: gunicorn's TLS peer, or a trusted front end's header.

Checklist:
 (1) "tls" source: the peer certificate of this very connection, as the handshake verified
     it against CONNECTOR_TLS_CLIENT_CA (environ["gunicorn.socket"]), never a header;
 (2) "forwarded" source: the header is believed only when sources lists "forwarded" AND the
     direct peer (the socket's address, never X-Forwarded-For) is a trusted proxy, or the
     operator declared that the app is reachable only through the front end;
 (3) a header that is not believed is never parsed: it is logged as a possible forgery and,
     without a TLS certificate, rejected as "forged header" (403; another configured
     method, such as basic, may still admit the request);
 (4) garbage in a believed header is a 403 (CertificateError), never a 500;
 (5) every presented certificate passes every configured policy (validity with clock skew,
     EKU, pins, chain, subject/issuer); nothing configured is a ConfigError, never "accept all";
 (6) accepted results are cached per worker by SHA-256 of the DER (bounded, short-lived),
     and the validity window is re-checked against the clock on every request;
 (7) an accepted certificate gives its SHA-256 thumbprint and days left (logged with the
     decision), and a warning once per worker per day inside the expiry window;
 (8) no certificate at all: None, so the other configured methods decide (401 if none does).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from app.auth.certpolicy import CertificatePolicy, ValidityPolicy, build_policies, load_trust
from app.auth.forwarded import ProxyTrust, environ_key, parse_forwarded, peer_address
from app.auth.monitor import ExpiryMonitor, Tracked
from app.auth.principal import Environ, Principal
from app.certs.x509util import thumbprint_sha1, thumbprint_sha256
from app.config.model import CertificateAuthConfig
from app.errors import CertificateError
from app.logs import event

_CACHE_LIMIT = 1024
_MAX_CHAIN = 5
_ENCODING_DER = 2  # _ssl.ENCODING_DER, for Python < 3.13's certificate objects
# Anchors and intermediates can expire too: re-verify the whole chain this often.
_CACHE_TTL = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Presented:
    source: str  # "tls" | "forwarded"
    der: bytes
    cert: x509.Certificate | None  # already parsed (forwarded), or parsed on a cache miss
    intermediates: tuple[x509.Certificate, ...] = ()
    # TLS: the certificates the client sent above its leaf, read only on a cache miss.
    chain: Callable[[], tuple[x509.Certificate, ...]] | None = None


@dataclass(frozen=True)
class _Accepted:
    cert: x509.Certificate
    tracked: Tracked
    sha1: str
    recheck_after: datetime


class CertificateAuth:
    """The "certificate" auth method (see the module checklist)."""

    name = "certificate"

    def __init__(
        self, config: CertificateAuthConfig, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        trust = load_trust(config)  # ConfigError naming the key for a bad file
        self._policies = build_policies(config, trust)
        self._validity = ValidityPolicy(timedelta(seconds=config.clock_skew_seconds))
        self._tls = "tls" in config.sources
        self._forwarded = "forwarded" in config.sources
        self._header = config.forwarded_header
        self._header_key = environ_key(config.forwarded_header)
        self._proxies = ProxyTrust(config.trusted_proxies, config.trust_forwarded_from_any_peer)
        self._clock = clock
        self._cache: dict[bytes, _Accepted] = {}
        configured = [_tracked(c, key) for key, c in trust.pinned]
        configured += [_tracked(c, "auth.certificate.ca_bundle") for c in trust.anchors]
        self.monitor = ExpiryMonitor(config.expiry_warning_days, configured, clock)

    def authenticate(self, environ: Environ) -> Principal | None:
        presented: list[_Presented] = []
        if self._tls:
            sock = environ.get("gunicorn.socket")
            der = _peer_certificate(sock)  # (1)
            if der:
                presented.append(_Presented("tls", der, None, chain=lambda: _sent_chain(sock)))
        forgery = self._forwarded_certificate(environ, presented)
        if not presented:
            if forgery:
                raise CertificateError(forgery)  # (3)
            return None  # (8)
        now = self._clock()
        accepted = [self._check(p, now) for p in presented]  # (5)
        # With both, the forwarded one names the original caller; the TLS one the proxy.
        main = accepted[-1]
        for item in accepted:
            self.monitor.accepted(item.tracked, now)  # (7)
        extra = [("cert_source", main.tracked.source), ("cert_sha1", main.sha1)]
        if len(accepted) > 1:
            extra.append(("peer_cert_thumbprint", accepted[0].tracked.sha256))
        return Principal(
            "certificate",
            main.tracked.subject,
            thumbprint=main.tracked.sha256,
            days_left=main.tracked.days_left(now),
            extra=tuple(extra),
        )

    def _forwarded_certificate(self, environ: Environ, presented: list[_Presented]) -> str | None:
        """Add a believed header's certificate to `presented`; the forgery reason otherwise."""
        value = environ.get(self._header_key)
        if value is None or not str(value).strip():
            return None
        peer = peer_address(environ)
        if self._forwarded and self._proxies.trusts(peer):  # (2)
            forwarded = parse_forwarded(str(value), self._header)  # (4)
            if forwarded is not None:
                presented.append(
                    _Presented("forwarded", forwarded.der, forwarded.leaf, forwarded.intermediates)
                )
            return None
        why = (
            f"peer {peer or 'unknown'} is not in trusted_proxies"
            if self._forwarded
            else '"forwarded" is not in sources'
        )
        event(
            logging.WARNING,
            "auth.certificate.forged_header",
            message=f"possible forgery: {self._header} header ignored ({why})",
            header=self._header,
            peer=peer,
            length=len(str(value)),
        )
        return (
            f"forged header: expected {self._header} only from a trusted front end, got it ({why})"
        )

    def _check(self, presented: _Presented, now: datetime) -> _Accepted:
        digest = hashlib.sha256(presented.source.encode() + b"\0" + presented.der)
        for extra in presented.intermediates:
            digest.update(extra.public_bytes(Encoding.DER))
        key = digest.digest()
        hit = self._cache.get(key)
        if hit is not None and now < hit.recheck_after:  # (6)
            self._apply((self._validity,), hit.cert, presented, now)
            return hit
        cert = presented.cert or _load(presented.der)
        if presented.chain is not None:
            presented = replace(presented, intermediates=presented.chain())
        self._apply(self._policies, cert, presented, now)
        accepted = _Accepted(
            cert, _tracked(cert, presented.source), thumbprint_sha1(cert), now + _CACHE_TTL
        )
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = accepted
        return accepted

    @staticmethod
    def _apply(
        policies: tuple[CertificatePolicy, ...],
        cert: x509.Certificate,
        presented: _Presented,
        now: datetime,
    ) -> None:
        try:
            for policy in policies:
                policy.verify(cert, now, presented.intermediates)
        except CertificateError as exc:
            raise CertificateError(f"{exc} [{_describe(cert, presented.source)}]") from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise CertificateError(
                f"unusable certificate: expected a well-formed X.509 certificate, got {exc} "
                f"[{_describe(cert, presented.source)}]"
            ) from exc


def _peer_certificate(sock: object) -> bytes | None:
    """DER of the verified TLS peer certificate of gunicorn's socket, if any."""
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None  # plain HTTP: not a TLS socket
    try:
        der = getpeercert(binary_form=True)
    except (ValueError, OSError):  # no handshake (yet), or the socket is gone
        return None
    return bytes(der) if der else None


def _sent_chain(sock: object) -> tuple[x509.Certificate, ...]:
    """The intermediates the client sent after its leaf; () where Python cannot tell.

    Public as SSLSocket.get_unverified_chain() since Python 3.13; the same method of the
    internal _sslobj since 3.10. Without it, intermediates must be in ca_bundle.
    """
    getter = getattr(sock, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return ()
    try:
        sent = getter() or []
        ders = [c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER) for c in sent]
        return tuple(x509.load_der_x509_certificate(d) for d in ders[1:_MAX_CHAIN])
    except (ValueError, OSError, AttributeError, TypeError):
        return ()  # an unusable chain only means fewer candidates for chain building


def _load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError(
            f"unusable certificate: expected a DER certificate, got {len(der)} bytes that are not"
        ) from exc


def _tracked(cert: x509.Certificate, source: str) -> Tracked:
    return Tracked(
        thumbprint_sha256(cert), cert.subject.rfc4514_string(), cert.not_valid_after_utc, source
    )


def _describe(cert: x509.Certificate, source: str) -> str:
    return (
        f"{source} certificate {cert.subject.rfc4514_string()!r}, SHA-256 {thumbprint_sha256(cert)}"
    )
