"""Run the conformance battery and turn each exchange into findings (the probes' expectations)."""

from __future__ import annotations

import json
import ssl
from collections import Counter
from dataclasses import dataclass

from app.errors import ToolError
from app.simulate import steps
from app.simulate.catalogue import catalogue
from app.simulate.findings import Finding, Severity
from app.simulate.probes import Auth, Expect, Plan, Probe, Target
from app.simulate.transport import Answer, Exchange, endpoint, send
from app.simulate.verdict import Verdict, judge, timing

_REJECTED = (401, 403)
_ACCEPTABLE_REFUSALS = (401, 403, 413, 415)


@dataclass(frozen=True)
class Contexts:
    """TLS contexts per probe kind: the real client certificate, none, or an impostor's."""

    client: ssl.SSLContext | None = None
    none: ssl.SSLContext | None = None
    impostor: ssl.SSLContext | None = None


@dataclass(frozen=True)
class ProbeResult:
    """A probe, what happened, and what is wrong with it."""

    probe: Probe
    exchange: Exchange
    verdict: Verdict | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class TargetReport:
    """All probe results for one URL, plus notes on checks that could not run."""

    target: Target
    results: tuple[ProbeResult, ...]
    notes: tuple[Finding, ...]

    def findings(self) -> list[tuple[str, Finding]]:
        """(probe id, finding) pairs, notes under '-'."""
        pairs = [(r.probe.id, f) for r in self.results for f in r.findings]
        return pairs + [("-", f) for f in self.notes]

    @property
    def violations(self) -> int:
        """How many findings break the contract."""
        return sum(1 for _, f in self.findings() if f.severity == "violation")


def _v(check: str, message: str) -> Finding:
    return Finding(check, "violation", message)


def run(
    target: Target, auth: Auth, plan: Plan, contexts: Contexts, *, timeout: float
) -> TargetReport:
    """Send every probe to the target, in order, one connection each, and judge the answers."""
    where = endpoint(target.url)
    probes, notes = catalogue(target, auth, plan)
    # Wait a little past the timeout so a late answer is still seen (and flagged), not lost.
    wait = timeout + min(1.0, timeout)
    tls = {"client": contexts.client, "none": contexts.none, "impostor": contexts.impostor}
    results: list[ProbeResult] = []
    answered: dict[str, Exchange] = {}
    for probe in probes:
        exchange = send(where, probe.body, probe.headers(), tls=tls[probe.tls], timeout=wait)
        if not results and exchange.error_kind == "connect":
            raise ToolError(f"cannot connect to {where.host}:{where.port}: {exchange.error}")
        if exchange.error_kind == "verify":
            raise ToolError(
                f"cannot verify the server certificate of {where.host}: {exchange.error} "
                "(pass --ca FILE with its CA, or --insecure)"
            )
        reference = answered.get(probe.replay_of) if probe.replay_of else None
        verdict, findings = assess(
            probe, exchange, contract=target.contract, timeout=timeout, reference=reference
        )
        answered[probe.id] = exchange
        results.append(ProbeResult(probe, exchange, verdict, tuple(findings)))
    return TargetReport(target, tuple(results), tuple(notes) + _summary(auth, results))


def _summary(auth: Auth, results: list[ProbeResult]) -> tuple[Finding, ...]:
    seen = Counter(r.verdict.action for r in results if r.verdict and r.verdict.action)
    found = []
    if seen:
        listed = ", ".join(f"{action} x{count}" for action, count in sorted(seen.items()))
        found.append(Finding("actions.seen", "info", f"answers seen: {listed}"))
    first = results[0] if results else None
    if not auth.any and first and first.verdict and first.verdict.action:
        found.append(
            Finding(
                "auth.open",
                "warning",
                "the endpoint served a request without credentials: anyone can call it; "
                "production endpoints must require basic or certificate auth",
            )
        )
    return tuple(found)


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
