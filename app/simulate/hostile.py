"""Hostile probes: unusable bodies and bad credentials, which must never be served."""

from __future__ import annotations

import base64
import json

from app.simulate import payloads
from app.simulate.credentials import basic_header
from app.simulate.findings import Finding
from app.simulate.payloads import Profile
from app.simulate.probes import JSON, Auth, Expect, Probe, TlsChoice

ONE_MEGABYTE = 1024 * 1024


def body_probes(auth: Auth, profile: Profile, base: bytes, step: str | None) -> list[Probe]:
    """Bodies Entra never sends: each must get a blocking answer or a 4xx, never 5xx or Continue."""
    header = auth.header
    document = json.loads(base)
    wrong_types = {
        key: 42 if isinstance(value, str) else "wrong" for key, value in document.items()
    }
    padding = profile.custom("Padding")
    oversized = payloads.encode({**document, padding: "x" * ONE_MEGABYTE})
    marker = b'"ui_locales"' if b'"ui_locales"' in base else b'"type"'
    invalid_utf8 = base.replace(marker, b'"\xff\xfe": "\xc3\x28", ' + marker, 1)

    def probe(pid: str, title: str, body: bytes, content_type: str | None = JSON) -> Probe:
        return Probe(pid, title, step, Expect.MALFORMED, body, content_type, header)

    return [
        probe("body.not-json", "a body that is not JSON", b"this is not JSON"),
        probe("body.truncated", "JSON cut in the middle", base[: len(base) // 2]),
        probe("body.empty", "an empty body", b""),
        probe("body.array", "a JSON array instead of an object", b"[" + base + b"]"),
        probe(
            "body.wrong-types", "every claim with the wrong JSON type", payloads.encode(wrong_types)
        ),
        probe("body.invalid-utf8", "bytes that are not UTF-8", invalid_utf8),
        probe("body.oversized", "a 1 MiB body", oversized),
        probe("body.wrong-content-type", "a valid body sent as text/plain", base, "text/plain"),
    ]


def auth_probes(auth: Auth, base: bytes, step: str | None) -> tuple[list[Probe], list[Finding]]:
    """Bad credentials alone (others stripped) must be rejected; odd but valid ones served."""
    if not auth.any:
        why = "no credentials given: authentication probes skipped (production endpoints must "
        return [], [Finding("auth.not-tested", "info", why + "require basic or certificate auth)")]

    def reject(pid: str, title: str, header: str | None, tls: TlsChoice = "none") -> Probe:
        return Probe(pid, title, step, Expect.REJECT, base, JSON, header, tls)

    def accept(pid: str, title: str, header: str | None) -> Probe:
        return Probe(pid, title, step, Expect.ACCEPT, base, JSON, header)

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode("ascii")

    found = [reject("auth.none", "no credentials at all", None)]
    notes: list[Finding] = []
    if auth.basic is not None:
        user, password = auth.basic.username, auth.basic.password
        found += [
            reject(
                "auth.wrong-password",
                "right user, wrong password",
                basic_header(user, password + "-wrong"),
            ),
            reject(
                "auth.wrong-user", "wrong user, right password", basic_header("x" + user, password)
            ),
            reject("auth.no-colon", "credentials without a colon", f"Basic {b64(user)}"),
            reject("auth.bad-base64", "credentials that are not base64", "Basic %%%not-base64%%%"),
            reject("auth.empty", "the Basic scheme with nothing after it", "Basic"),
            reject(
                "auth.non-ascii", "non-ASCII user and password", basic_header("usér", "pässwörd")
            ),
            reject(
                "auth.wrong-scheme",
                "the right credentials under the Bearer scheme",
                f"Bearer {b64(f'{user}:{password}')}",
            ),
            accept(
                "auth.lowercase-scheme",
                "the scheme written 'basic' (RFC 7617: case-insensitive)",
                auth.basic.header("basic"),
            ),
        ]
        if ":" in password:
            found.append(
                accept("auth.colon-password", "the real password, which contains ':'", auth.header)
            )
        else:
            notes.append(
                Finding(
                    "auth.colon-password",
                    "info",
                    "not checked: the password has "
                    "no ':' (use one that has, to check it is split on the first "
                    "colon only)",
                )
            )
    if auth.bearer is not None:
        found.append(
            reject(
                "auth.bad-token",
                "a bearer token that is not a valid JWT",
                "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            )
        )
    if auth.certificate:
        found.append(
            reject(
                "auth.impostor-cert",
                "a certificate with the real one's subject and issuer names, from another CA",
                None,
                "impostor",
            )
        )
    return found, notes
