"""Render simulator answers and conformance reports as text tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from app.simulate.battery import ProbeResult, TargetReport
from app.simulate.credentials import redact
from app.simulate.findings import Finding
from app.simulate.transport import Exchange
from app.simulate.verdict import Verdict

_LABEL = {"violation": "VIOLATION", "warning": "warning", "info": "info"}


def safe_url(url: str) -> str:
    """The URL without query values: Azure Functions keys travel as ?code=..."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    names = [pair.partition("=")[0] for pair in parts.query.split("&")]
    return urlunsplit(parts._replace(query="&".join(f"{n}=***" for n in names)))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")


def simulation_text(
    exchange: Exchange, verdict: Verdict | None, findings: Sequence[Finding], *, show_request: bool
) -> str:
    """What was sent (on request), what came back, and the verdict."""
    lines = [f"POST {safe_url(exchange.url)}"]
    if show_request:
        lines += [f"{name}: {redact(name, value)}" for name, value in exchange.headers]
        lines += ["", _pretty(exchange.body), ""]
    answer = exchange.answer
    if answer is None:
        lines.append(f"no answer after {_ms(exchange.elapsed)}: {exchange.error}")
    else:
        lines.append(f"HTTP {answer.status} {answer.reason} in {_ms(answer.elapsed)}")
        lines.append(f"Content-Type: {answer.header('Content-Type') or '(none)'}")
        lines += [_pretty(answer.body), ""]
    action = verdict.action if verdict else None
    bad = [f for f in findings if f.severity == "violation"]
    head = f"verdict: {action or 'no contract answer'}"
    lines.append(f"{head}, {'VIOLATES the contract' if bad else 'valid'}")
    lines += [f"  {_LABEL[f.severity]:<9}  {f.check:<24}  {f.message}" for f in findings]
    return "\n".join(lines)


def simulation_json(
    exchange: Exchange, verdict: Verdict | None, findings: Sequence[Finding]
) -> str:
    """The same as JSON, for scripts."""
    answer = exchange.answer
    document = {
        "url": safe_url(exchange.url),
        "status": answer.status if answer else None,
        "elapsed_ms": round((answer.elapsed if answer else exchange.elapsed) * 1000, 1),
        "error": exchange.error,
        "body": answer.body.decode("utf-8", "replace") if answer else None,
        "action": verdict.action if verdict else None,
        "findings": [_finding(f) for f in findings],
        "valid": not any(f.severity == "violation" for f in findings),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _finding(finding: Finding) -> dict[str, str]:
    return {"check": finding.check, "severity": finding.severity, "message": finding.message}


def _outcome(result: ProbeResult) -> tuple[str, str]:
    answer = result.exchange.answer
    if answer is None:
        return "-", f"no answer ({result.exchange.error_kind})"
    action = result.verdict.action if result.verdict and result.verdict.action else ""
    return str(answer.status), action


def conformance_text(reports: Sequence[TargetReport]) -> str:
    """One table per target: a row per finding, 'ok' for probes with none, then a summary."""
    lines: list[str] = []
    for report in reports:
        target = report.target
        how = target.step or ("step from body (B2C)" if target.b2c else "step unknown")
        lines.append(f"{safe_url(target.url)}  [{target.contract}, {how}]")
        rows = [("RESULT", "CHECK", "PROBE", "STATUS", "TIME", "DETAIL")]
        for result in report.results:
            status, action = _outcome(result)
            elapsed = result.exchange.answer.elapsed if result.exchange.answer else None
            when = _ms(elapsed) if elapsed is not None else "-"
            if not result.findings:
                rows.append(("ok", "-", result.probe.id, status, when, action))
            for f in result.findings:
                rows.append((_LABEL[f.severity], f.check, result.probe.id, status, when, f.message))
        rows += [(_LABEL[f.severity], f.check, "-", "", "", f.message) for f in report.notes]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(5)]
            lines.append("  ".join([*cells, row[5]]).rstrip())
        lines.append("")
    lines.append(summary(reports))
    return "\n".join(lines)


def summary(reports: Sequence[TargetReport]) -> str:
    """`N probes, V violations, W warnings: PASS|FAIL`."""
    probes = sum(len(r.results) for r in reports)
    pairs = [f for r in reports for _, f in r.findings()]
    violations = sum(1 for f in pairs if f.severity == "violation")
    warnings = sum(1 for f in pairs if f.severity == "warning")
    verdict = "FAIL" if violations else "PASS"
    return f"{probes} probes, {violations} violations, {warnings} warnings: {verdict}"


def conformance_json(reports: Sequence[TargetReport]) -> str:
    """Every probe with its request summary, answer and findings."""
    targets = []
    for report in reports:
        probes = []
        for result in report.results:
            answer = result.exchange.answer
            probes.append(
                {
                    "id": result.probe.id,
                    "title": result.probe.title,
                    "step": result.probe.step,
                    "expect": str(result.probe.expect),
                    "status": answer.status if answer else None,
                    "elapsed_ms": round(answer.elapsed * 1000, 1) if answer else None,
                    "error": result.exchange.error,
                    "action": result.verdict.action if result.verdict else None,
                    "findings": [_finding(f) for f in result.findings],
                }
            )
        target = report.target
        targets.append(
            {
                "url": safe_url(target.url),
                "contract": target.contract,
                "step": target.step,
                "b2c": target.b2c,
                "probes": probes,
                "notes": [_finding(f) for f in report.notes],
                "violations": report.violations,
            }
        )
    violations = sum(r.violations for r in reports)
    document = {
        "targets": targets,
        "summary": {"text": summary(reports), "violations": violations, "passed": not violations},
    }
    return json.dumps(document, indent=2, ensure_ascii=False)
