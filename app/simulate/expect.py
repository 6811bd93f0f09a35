"""What each kind of probe expects: turn one exchange into findings beyond the contract's own."""

from __future__ import annotations

import json

from app.simulate import steps
from app.simulate.findings import Finding, Severity
from app.simulate.findings import violation as _v
from app.simulate.probes import Expect, Probe
from app.simulate.transport import Answer, Exchange
from app.simulate.verdict import Verdict, judge, timing

_REJECTED = (401, 403)
_ACCEPTABLE_REFUSALS = (401, 403, 413, 415)


def assess(
    probe: Probe,
    exchange: Exchange,
    *,
    contract: str,
    timeout: float,
    reference: Exchange | None = None,
) -> tuple[Verdict | None, list[Finding]]:
    """What the probe's answer (or its absence) says about the endpoint."""
    answer = exchange.answer
    if answer is None:
        return None, _no_answer(probe, exchange, timeout)
    if probe.expect is Expect.REJECT:
        return None, _rejection(probe, answer, contract, timeout)
    if probe.expect is Expect.MALFORMED:
        return _malformed(probe, answer, contract, timeout)
    if answer.status in _REJECTED:
        return None, [*timing(answer.elapsed, timeout), _refused(probe, answer)]
    verdict = judge(answer, step=probe.step, contract=contract, timeout=timeout)
    findings = list(verdict.findings)
    if probe.expect is Expect.BLOCK and verdict.action is not None and not verdict.blocking:
        findings.append(
            _v(
                "rules.not-blocked",
                f"{probe.title}: expected a blocking answer, got {verdict.action} "
                "(a ValidationError overwritten by a later Continue?)",
            )
        )
    if reference is not None and reference.answer is not None:
        findings.extend(_replay(reference.answer, answer))
    return verdict, findings


def _no_answer(probe: Probe, exchange: Exchange, timeout: float) -> list[Finding]:
    if exchange.error_kind == "timeout":
        return [_v("time.timeout", f"expected an answer within {timeout:g} s, got none")]
    if probe.expect is Expect.REJECT and exchange.error_kind in ("tls", "reset"):
        return []  # refused in the handshake: never served
    if probe.expect is Expect.MALFORMED and probe.id == "body.oversized":
        return [
            Finding(
                "malformed.no-answer",
                "warning",
                f"connection closed without an answer ({exchange.error}); a 413 is clearer",
            )
        ]
    if exchange.error_kind == "tls":
        return [
            _v(
                "transport.tls",
                f"expected a TLS handshake, got: {exchange.error} (client certificate refused?)",
            )
        ]
    check = "malformed.no-answer" if probe.expect is Expect.MALFORMED else "transport.error"
    return [_v(check, f"expected an HTTP answer, got {exchange.error_kind}: {exchange.error}")]


def _rejection(probe: Probe, answer: Answer, contract: str, timeout: float) -> list[Finding]:
    findings = list(timing(answer.elapsed, timeout))
    if answer.status in _REJECTED:
        if answer.status == 401 and not answer.header("WWW-Authenticate"):
            findings.append(
                Finding("auth.challenge", "warning", "expected a WWW-Authenticate header on 401")
            )
        return findings
    if answer.status >= 500:
        findings.append(_v("auth.crash", f"{probe.title}: expected 401/403, got {answer.status}"))
        return findings
    served = judge(answer, step=probe.step, contract=contract).action is not None
    if served:
        findings.append(
            _v(
                "auth.served",
                f"{probe.title}: expected 401/403, got {answer.status} with a "
                "contract answer: the request was served",
            )
        )
    else:
        findings.append(_v("auth.status", f"{probe.title}: expected 401/403, got {answer.status}"))
    return findings


def _refused(probe: Probe, answer: Answer) -> Finding:
    if probe.expect is Expect.ACCEPT:
        return _v("auth.accepted", f"{probe.title}: expected it to be served, got {answer.status}")
    return _v(
        "auth.accepted",
        f"expected the given credentials to be accepted, got {answer.status}: check the "
        "credentials, or pass --basic / --pfx / --cert and --key if the endpoint needs them",
    )


def _malformed(
    probe: Probe, answer: Answer, contract: str, timeout: float
) -> tuple[Verdict | None, list[Finding]]:
    if answer.status >= 500:
        return None, [
            *timing(answer.elapsed, timeout),
            _v(
                "malformed.5xx",
                f"{probe.title}: expected a blocking answer or 4xx, got {answer.status}",
            ),
        ]
    if answer.status in _ACCEPTABLE_REFUSALS:
        return None, list(timing(answer.elapsed, timeout))
    allowed = (200,) if contract == steps.AUTH_EXTENSION else (200, 400)
    if answer.status not in allowed:
        severity: Severity = "warning" if 400 <= answer.status < 500 else "violation"
        message = f"{probe.title}: expected a blocking answer, 400 or 413, got {answer.status}"
        return None, [
            *timing(answer.elapsed, timeout),
            Finding("malformed.status", severity, message),
        ]
    verdict = judge(answer, step=probe.step, contract=contract, timeout=timeout)
    findings = list(verdict.findings)
    if answer.status == 400 and verdict.action is None:
        # One finding, not the verdict's list: the whole body is simply not the contract's.
        why = "; ".join(f.message for f in verdict.violations if not f.check.startswith("time."))
        findings = [f for f in findings if f.check.startswith("time.")]
        findings.append(
            _v(
                "malformed.noncontract-400",
                f"{probe.title}: expected a contract body with 400, got none ({why}): "
                "Entra shows the user an opaque 'BadRequest' error",
            )
        )
    elif verdict.action is not None and not verdict.blocking:
        findings.append(
            _v(
                "malformed.continue",
                f"{probe.title}: expected a blocking answer, got {verdict.action}",
            )
        )
    return verdict, findings


def _replay(first: Answer, again: Answer) -> list[Finding]:
    if _comparable(first) == _comparable(again):
        return []
    return [
        _v(
            "replay.differs",
            f"expected the same answer to a replayed request, got {first.status} "
            f"{_brief(first)} then {again.status} {_brief(again)}",
        )
    ]


def _comparable(answer: Answer) -> tuple[int, object]:
    try:
        return answer.status, json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        return answer.status, answer.body


def _brief(answer: Answer) -> str:
    text = answer.body[:120].decode("utf-8", "replace")
    return text + ("..." if len(answer.body) > 120 else "")
