"""`python -m app simulate` and `python -m app conformance`: call and judge an API connector."""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Sequence

from app.errors import ToolError
from app.simulate import payloads, steps, tls
from app.simulate.battery import Contexts, TargetReport, refuse_unverified, run
from app.simulate.credentials import (
    BASIC_PASSWORD_ENV,
    BEARER_TOKEN_ENV,
    Basic,
    Bearer,
    read_secret,
)
from app.simulate.expect import assess
from app.simulate.payloads import Profile
from app.simulate.probes import Auth, Expect, Plan, Probe, Target
from app.simulate.report import (
    conformance_json,
    conformance_text,
    simulation_json,
    simulation_text,
)
from app.simulate.transport import endpoint, send
from app.simulate.verdict import DEFAULT_TIMEOUT, judge


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from exc
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"expected 0 < seconds <= 60, got {text}")
    return value


def _shared(parser: argparse.ArgumentParser) -> None:
    req = parser.add_argument_group("request")
    req.add_argument(
        "--step",
        choices=steps.ALL_STEPS,
        metavar="STEP",
        help=f"{', '.join(steps.ALL_STEPS)} (default: the URL's last segment, else unknown)",
    )
    req.add_argument("--contract", choices=steps.CONTRACTS, help="default: from the step")
    req.add_argument(
        "--b2c", action="store_true", help="put B2C `step` and `client_id` in the body"
    )
    req.add_argument("--email", default=Profile.email, help="the user's email claim")
    req.add_argument("--locale", default=Profile.locale, help="ui_locales (default en-US)")
    req.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="K=V",
        help="add or override a claim (K:=JSON for booleans and numbers); repeatable",
    )
    req.add_argument(
        "--extensions-app-id",
        default=Profile.extensions_app_id,
        help="app id in extension_<id>_Name custom attributes",
    )
    req.add_argument("--client-id", default=Profile.client_id, help="B2C client_id")
    req.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        help="the strictest caller's timeout in seconds (default 2)",
    )
    req.add_argument("--json", action="store_true", help="print JSON instead of text")
    auth = parser.add_argument_group(
        "authentication",
        f"secrets come from the environment ({BASIC_PASSWORD_ENV}, CONNECTOR_PFX_PASSWORD, "
        f"CONNECTOR_KEY_PASSWORD, {BEARER_TOKEN_ENV}) or a prompt, never from the command line",
    )
    auth.add_argument("--basic", metavar="USER", help="HTTP basic auth as USER")
    certs = auth.add_mutually_exclusive_group()
    certs.add_argument("--pfx", metavar="FILE", help="client certificate and key (.pfx/.p12)")
    certs.add_argument("--cert", metavar="PEM", help="client certificate (PEM, with --key)")
    auth.add_argument("--key", metavar="PEM", help="client private key (PEM, with --cert)")
    auth.add_argument(
        "--bearer",
        action="store_true",
        help=f"send the bearer token in {BEARER_TOKEN_ENV} (authentication extension)",
    )
    trust = auth.add_mutually_exclusive_group()
    trust.add_argument("--ca", metavar="FILE", help="trust only these CAs for the server")
    trust.add_argument("--insecure", action="store_true", help="do not verify the server")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `simulate` and `conformance` command groups."""
    sim = subparsers.add_parser(
        "simulate",
        help="send one Entra-shaped request and judge the answer",
        description="Send one request exactly as Entra does; print status, time, body, verdict. "
        "Exit 0 for a valid answer, 1 for a contract violation.",
    )
    sim.add_argument("url", metavar="URL")
    sim.add_argument(
        "--variant",
        choices=payloads.VARIANTS,
        default="full",
        help="which realistic body to send (default: full)",
    )
    sim.add_argument(
        "--show-request", action="store_true", help="print the request (secrets hidden)"
    )
    _shared(sim)
    sim.set_defaults(func=simulate)
    conf = subparsers.add_parser(
        "conformance",
        help="run the contract battery against endpoints",
        description="Run the battery (every step and action, hostile bodies, bad credentials, "
        "slow answers, a replay) against each URL. Exit 1 on any violation. See "
        "docs/testing-your-endpoint.md.",
    )
    conf.add_argument("urls", nargs="+", metavar="URL")
    conf.add_argument(
        "--invalid-claim",
        metavar="K=V",
        help="a claim value your rules reject (checks it is blocked)",
    )
    conf.add_argument("--blocked-email", metavar="ADDRESS", help="an email your rules block")
    _shared(conf)
    conf.set_defaults(func=conformance)


def _profile(args: argparse.Namespace) -> Profile:
    return Profile(
        email=args.email,
        locale=args.locale,
        claims=tuple(payloads.parse_claim(c) for c in args.claim),
        extensions_app_id=args.extensions_app_id,
        client_id=args.client_id,
        b2c=args.b2c,
    )


def credentials(
    args: argparse.Namespace, urls: Sequence[str], *, impostor: bool
) -> tuple[Auth, Contexts]:
    """Read the secrets the options name and build the TLS contexts every probe kind needs."""
    https = any(endpoint(url).https for url in urls)
    if bool(args.cert) != bool(args.key):
        raise ToolError("expected --cert and --key together")
    basic = None
    if args.basic is not None:
        if ":" in args.basic:
            raise ToolError(
                f"expected a basic-auth user without ':' (RFC 7617), got {args.basic!r}"
            )
        basic = Basic(args.basic, read_secret(BASIC_PASSWORD_ENV, f"Password for {args.basic}: "))
    bearer = Bearer(read_secret(BEARER_TOKEN_ENV, "Bearer token: ")) if args.bearer else None
    cert = None
    if args.pfx or args.cert:
        if not https:
            raise ToolError("expected an https:// URL: a client certificate needs TLS")
        cert = tls.from_pfx(args.pfx) if args.pfx else tls.from_pem(args.cert, args.key)
    if not https:
        return Auth(basic, bearer, False), Contexts()

    def trust() -> ssl.SSLContext:
        return tls.server_trust(args.ca, args.insecure)

    plain = trust()
    if cert is None:
        return Auth(basic, bearer, False), Contexts(plain, plain, None)
    client = tls.with_client_certificate(trust, cert)
    fake = tls.with_client_certificate(trust, tls.impostor(cert)) if impostor else None
    return Auth(basic, bearer, True), Contexts(client, plain, fake)


def simulate(args: argparse.Namespace) -> int:
    """Send one request the way Entra does; exit 0 for a valid answer, 1 for a violation."""
    step, contract = steps.resolve(args.step, args.contract, args.url)
    if contract == steps.AUTH_EXTENSION and step is None:
        step = steps.SUBMIT
    where = endpoint(args.url)
    auth, contexts = credentials(args, [args.url], impostor=False)
    body = payloads.encode(payloads.build(step, contract, _profile(args), args.variant))
    probe = Probe(
        "simulate", "the simulated request", step, Expect.SERVE, body, authorization=auth.header
    )
    # Wait well past the timeout: the user wants to see a slow answer, not just that it was slow.
    exchange = send(
        where, body, probe.headers(), tls=contexts.client, timeout=max(10.0, args.timeout * 5)
    )
    refuse_unverified(exchange)
    verdict, findings = assess(probe, exchange, contract=contract, timeout=args.timeout)
    if verdict is None and exchange.answer is not None:
        verdict = judge(exchange.answer, step=step, contract=contract, timeout=args.timeout)
    if args.json:
        print(simulation_json(exchange, verdict, findings))
    else:
        print(simulation_text(exchange, verdict, findings, show_request=args.show_request))
    return 1 if any(f.severity == "violation" for f in findings) else 0


def conformance(args: argparse.Namespace) -> int:
    """Run the battery against every URL; exit 1 on any violation."""
    plan = Plan(
        profile=_profile(args),
        invalid_claim=payloads.parse_claim(args.invalid_claim) if args.invalid_claim else None,
        blocked_email=args.blocked_email,
    )
    auth, contexts = credentials(args, args.urls, impostor=True)
    reports: list[TargetReport] = []
    for url in args.urls:
        step, contract = steps.resolve(args.step, args.contract, url)
        target = Target(url, step, contract, args.b2c)
        reports.append(run(target, auth, plan, contexts, timeout=args.timeout))
    print(conformance_json(reports) if args.json else conformance_text(reports))
    return 1 if any(r.violations for r in reports) else 0
