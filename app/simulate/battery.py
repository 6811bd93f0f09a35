"""Run the conformance battery against one target: every probe, in order, one connection each."""

from __future__ import annotations

import ssl
from collections import Counter
from dataclasses import dataclass

from app.errors import ToolError
from app.simulate.catalogue import catalogue
from app.simulate.expect import assess
from app.simulate.findings import Finding
from app.simulate.probes import Auth, Plan, Probe, Target
from app.simulate.transport import Exchange, endpoint, send
from app.simulate.verdict import Verdict


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
        refuse_unverified(exchange)
        reference = answered.get(probe.replay_of) if probe.replay_of else None
        verdict, findings = assess(
            probe, exchange, contract=target.contract, timeout=timeout, reference=reference
        )
        answered[probe.id] = exchange
        results.append(ProbeResult(probe, exchange, verdict, tuple(findings)))
    return TargetReport(target, tuple(results), tuple(notes) + _summary(auth, results))


def refuse_unverified(exchange: Exchange) -> None:
    """Stop when we could not verify the server: a setup problem, not the endpoint's fault."""
    if exchange.error_kind == "verify":
        raise ToolError(
            f"cannot verify the server certificate of {exchange.url}: {exchange.error} "
            "(pass --ca FILE with its CA, or --insecure)"
        )


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
