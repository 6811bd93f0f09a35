"""A small correct API connector and switchable defects (REFERENCE §2), served on 127.0.0.1.

Each `Behaviour` flag reproduces one defect seen in public samples, so the conformance tests can
show every check failing on purpose. Also the TLS files those tests need (from tests/pki.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests import pki

USER = "entra"
PASSWORD = "s3cret:with:colons"  # the real password contains ':' on purpose
LIMIT = 64 * 1024
BLOCKED_DOMAIN = "blocked.example"
POSTAL = re.compile(r"^[0-9]{5}$")
STEPS = {
    "post-federation-signup": "post-federation-signup",
    "post-attribute-collection": "post-attribute-collection",
    "pre-token-issuance": "pre-token-issuance",
    "PostFederationSignup": "post-federation-signup",
    "PostAttributeCollection": "post-attribute-collection",
    "PreTokenIssuance": "pre-token-issuance",
    "PreTokenApplicationClaims": "pre-token-issuance",
    "attribute-collection-start": "attribute-collection-start",
    "attribute-collection-submit": "attribute-collection-submit",
    "microsoft.graph.authenticationEvent.attributeCollectionStart": "attribute-collection-start",
    "microsoft.graph.authenticationEvent.attributeCollectionSubmit": "attribute-collection-submit",
}
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Behaviour:
    """How the server authenticates, and which single defect (if any) it carries."""

    auth: str = "basic"  # "basic" | "certificate" | "none"
    pinned_sha256: str = ""  # client certificate pin for auth == "certificate"
    # REFERENCE §2 defects
    auth_skipped: bool = False  # username setting unset: every request served
    split_every_colon: bool = False  # password containing ':' rejected
    crash_without_colon: bool = False  # header without colon -> 500
    case_sensitive_scheme: bool = False  # rejects 'basic'
    plain_equality: bool = False  # == instead of constant time (not observable)
    validation_overwritten: bool = False  # ValidationError replaced by a later Continue
    noncontract_400: bool = False  # bad body -> 400 with a non-contract body
    # further defects the battery must catch
    validation_everywhere: bool = False  # ValidationError at steps that forbid it
    crash_on_bad_json: bool = False  # 500 on malformed JSON
    slow_seconds: float = 0.0  # sleeps when a LoyaltyNumber custom attribute is present
    replay_differs: bool = False  # second identical request answered differently
    no_challenge: bool = False  # 401 without WWW-Authenticate
    crash_non_ascii: bool = False  # compare_digest on str: TypeError on non-ASCII credentials
    ignore_content_type: bool = False  # parses text/plain bodies and answers Continue
    subject_only: bool = False  # any client certificate with the right subject is accepted
    ext_validation_at_start: bool = False  # showValidationError in attributeCollectionStart


def _json(
    status: str,
    document: object,
    start: StartResponse,
    extra: Iterable[tuple[str, str]] = (),
    content_type: str = "application/json",
) -> list[bytes]:
    body = json.dumps(document).encode()
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra])
    return [body]


class ConnectorApp:
    """A WSGI API connector that follows the contract unless a defect flag says otherwise."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.b = behaviour
        self.seen: Counter[bytes] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        url_step = STEPS.get(path.rstrip("/").rsplit("/", 1)[-1])
        ext = path.startswith("/api/authentication-extension")
        refused = self._authenticate(environ, start)
        if refused is not None:
            return refused
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        if length > LIMIT:
            return self._answer(
                start, ext, url_step, "block", "Request too large.", status="413 Payload Too Large"
            )
        claims = self._parse(environ, raw)
        if claims is None:
            if self.b.noncontract_400:
                return _json("400 Bad Request", {"error": "bad request"}, start)
            return self._answer(start, ext, url_step, "block", "We could not read the request.")
        step = url_step or STEPS.get(str(claims.get("step") or claims.get("type") or ""))
        if self.b.slow_seconds and any(k.endswith("_LoyaltyNumber") for k in claims):
            time.sleep(self.b.slow_seconds)
        action, message = self._decide(claims, step)
        if self.b.replay_differs:
            with self.lock:
                self.seen[raw] += 1
                if self.seen[raw] > 1:
                    action, message = "block", "This invitation was already used."
        return self._answer(start, ext, step, action, message)

    # -- authentication -------------------------------------------------------------------------

    def _authenticate(self, environ: dict[str, Any], start: StartResponse) -> list[bytes] | None:
        if self.b.auth == "none" or self.b.auth_skipped:
            return None
        if self.b.auth == "certificate":
            der = environ.get("peercert")
            if not der:
                return self._deny(start)
            if self.b.subject_only:
                subject = x509.load_der_x509_certificate(der).subject
                ok = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.contoso"
            else:
                ok = hmac.compare_digest(
                    hashlib.sha256(der).hexdigest().encode(), self.b.pinned_sha256.encode()
                )
            return (
                None
                if ok
                else _json(
                    "403 Forbidden",
                    {"title": "Forbidden"},
                    start,
                    content_type="application/problem+json",
                )
            )
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if (scheme != "Basic") if self.b.case_sensitive_scheme else (scheme.lower() != "basic"):
            return self._deny(start)
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return self._deny(start)
        if self.b.split_every_colon:
            parts = decoded.split(":")
            if len(parts) != 2:
                return self._deny(start)
            user, password = parts
        elif self.b.crash_without_colon:
            user, password = decoded.split(":", 1)[0], decoded.split(":", 1)[1]
        else:
            user, sep, password = decoded.partition(":")
            if not sep:
                return self._deny(start)
        if self.b.plain_equality:
            ok = user == USER and password == PASSWORD
        elif self.b.crash_non_ascii:
            ok = hmac.compare_digest(user, USER) & hmac.compare_digest(password, PASSWORD)
        else:
            ok = hmac.compare_digest(user.encode(), USER.encode()) & hmac.compare_digest(
                password.encode(), PASSWORD.encode()
            )
        return None if ok else self._deny(start)

    def _deny(self, start: StartResponse) -> list[bytes]:
        extra = (
            []
            if self.b.no_challenge
            else [("WWW-Authenticate", 'Basic realm="api-connector", charset="UTF-8"')]
        )
        return _json(
            "401 Unauthorized",
            {"title": "Unauthorized", "status": 401},
            start,
            extra,
            "application/problem+json",
        )

    # -- parsing and rules ----------------------------------------------------------------------

    def _parse(self, environ: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
        media = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media != "application/json" and not self.b.ignore_content_type:
            return None
        if self.b.crash_on_bad_json:
            document = json.loads(raw)
        else:
            try:
                document = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return None
        if not isinstance(document, dict):
            return None
        if "data" in document:  # authentication extension: flatten attributes, keep the type
            claims = self._flatten(document)
            if claims is None:
                return None
            document = claims
        for key in (
            "email",
            "ui_locales",
            "step",
            "displayName",
            "givenName",
            "surname",
            "lastName",
            "postalCode",
            "client_id",
            "type",
        ):
            if key in document and not isinstance(document[key], str):
                return None
        if "identities" in document and not isinstance(document["identities"], list):
            return None
        return document

    @staticmethod
    def _flatten(document: dict[str, Any]) -> dict[str, Any] | None:
        data = document.get("data")
        info = data.get("userSignUpInfo") if isinstance(data, dict) else None
        attributes = info.get("attributes", {}) if isinstance(info, dict) else None
        if not isinstance(attributes, dict):
            return None
        flat = {k: v.get("value") for k, v in attributes.items() if isinstance(v, dict)}
        flat["type"] = document.get("type")
        for identity in info.get("identities", []) if isinstance(info, dict) else []:
            if isinstance(identity, dict) and identity.get("signInType") == "email":
                flat.setdefault("email", identity.get("issuerAssignedId"))
        return flat

    def _decide(self, claims: dict[str, Any], step: str | None) -> tuple[str, str]:
        email = claims.get("email")
        if isinstance(email, str) and email.lower().endswith("@" + BLOCKED_DOMAIN):
            return "block", "Sign-up is not available for this email domain."
        response = ("continue", "")
        postal = claims.get("postalCode")
        attribute_step = step in ("post-attribute-collection", "attribute-collection-submit")
        if postal is not None and not POSTAL.match(str(postal)):
            if attribute_step or self.b.validation_everywhere:
                response = ("validation", "Please enter a valid postal code.")
            else:
                response = ("block", "Please enter a valid postal code.")
        if self.b.validation_overwritten:
            response = ("continue", "")  # the sample's later check overwrote the error
        return response

    # -- rendering ------------------------------------------------------------------------------

    def _answer(
        self,
        start: StartResponse,
        ext: bool,
        step: str | None,
        action: str,
        message: str,
        status: str | None = None,
    ) -> list[bytes]:
        if ext:
            return self._extension(start, step, action, message, status)
        if action == "continue":
            return _json(status or "200 OK", {"version": "1.0.0", "action": "Continue"}, start)
        if action == "validation":
            document = {
                "version": "1.0.0",
                "status": 400,
                "action": "ValidationError",
                "userMessage": message,
            }
            return _json(status or "400 Bad Request", document, start)
        document = {"version": "1.0.0", "action": "ShowBlockPage", "userMessage": message}
        return _json(status or "200 OK", document, start)

    def _extension(
        self, start: StartResponse, step: str | None, action: str, message: str, status: str | None
    ) -> list[bytes]:
        event = (
            "attributeCollectionStart"
            if step == "attribute-collection-start"
            else ("attributeCollectionSubmit")
        )
        if (
            action == "validation"
            and event == "attributeCollectionStart"
            and not (self.b.ext_validation_at_start)
        ):
            action = "block"
        if self.b.ext_validation_at_start and action == "block":
            action = "validation"
        name = {
            "continue": "continueWithDefaultBehavior",
            "block": "showBlockPage",
            "validation": "showValidationError",
        }[action]
        body: dict[str, Any] = {"@odata.type": f"microsoft.graph.{event}.{name}"}
        if action != "continue":
            body["message"] = message
        if action == "validation":
            body["attributeErrors"] = {"postalCode": message}
        odata = f"microsoft.graph.on{event[0].upper()}{event[1:]}ResponseData"
        return _json(status or "200 OK", {"data": {"@odata.type": odata, "actions": [body]}}, start)


# -- serving ------------------------------------------------------------------------------------


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        if isinstance(self.connection, ssl.SSLSocket):
            environ["peercert"] = self.connection.getpeercert(binary_form=True)
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(app: Callable[..., Any], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 on a free port in a thread; yield the base URL."""
    server = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- throwaway PKI (tests/pki.py) ---------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """Files of a test CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_pfx: Path
    pfx_password: str
    client_sha256: str


def make_pki(directory: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1, a client certificate (PEM, and a .pfx the way
    Entra wants it: 3DES, SHA-1 MAC)."""
    ca = pki.root_ca("CN=Test CA")
    server = pki.write_files(directory, "server", pki.server_cert(ca, hosts=("127.0.0.1",)))
    issued = pki.client_cert("CN=api.contoso", issuer=ca)
    client = pki.write_files(directory, "client", issued)
    password = "pfx:pass"
    pfx = pki.write_pfx(directory / "client.pfx", issued, password.encode())
    return Pki(
        pki.write_pem(directory / "ca.pem", ca.cert),
        server.cert,
        server.key,
        client.cert,
        client.key,
        pfx,
        password,
        issued.sha256.lower(),
    )


def server_context(pki: Pki, *, also_accept: bytes = b"") -> ssl.SSLContext:
    """TLS for the test server: client certificates optional, checked by the app.

    `also_accept` emulates a front end that takes any certificate and leaves the decision to the
    app (App Service, REFERENCE §4): the listed leaves and the real client certificate are trusted
    as they are, without a chain.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    if also_accept:
        leaf = also_accept.split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
        ctx.load_verify_locations(cadata=pki.client_cert.read_text() + leaf.decode())
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    else:
        ctx.load_verify_locations(pki.ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
