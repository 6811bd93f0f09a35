"""The battery over real TLS: client certificates from .pfx or PEM, the impostor, server trust."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from app.errors import ToolError
from app.simulate import steps, tls
from app.simulate.battery import Contexts, TargetReport, run
from app.simulate.credentials import Basic
from app.simulate.probes import Auth, Plan, Target
from tests.broken_servers import (
    PASSWORD,
    USER,
    Behaviour,
    ConnectorApp,
    Pki,
    make_pki,
    serve,
    server_context,
)

PATH = "/api/connector/post-attribute-collection"
PLAN = Plan(invalid_claim=("postalCode", "ABC"), blocked_email="eve@blocked.example")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def client(pki: Pki) -> tls.ClientCertificate:
    return tls.from_pfx(str(pki.client_pfx), pki.pfx_password)


@pytest.fixture(scope="module")
def impostor(client: tls.ClientCertificate) -> tls.ClientCertificate:
    return tls.impostor(client)


def contexts(pki: Pki, client: tls.ClientCertificate, fake: tls.ClientCertificate) -> Contexts:
    def trust() -> ssl.SSLContext:
        return tls.server_trust(str(pki.ca), False)

    return Contexts(
        tls.with_client_certificate(trust, client),
        trust(),
        tls.with_client_certificate(trust, fake),
    )


def certificate_battery(
    pki: Pki, ctx: Contexts, behaviour: Behaviour, server: ssl.SSLContext, auth: Auth
) -> TargetReport:
    with serve(ConnectorApp(behaviour), server) as base:
        return run(
            Target(base + PATH, steps.ATTRIBUTES, steps.API_CONNECTOR, False),
            auth,
            PLAN,
            ctx,
            timeout=2.0,
        )


def violations(report: TargetReport) -> set[tuple[str, str]]:
    return {(f.check, pid) for pid, f in report.findings() if f.severity == "violation"}


@pytest.fixture
def pinned(pki: Pki) -> Iterator[Behaviour]:
    yield Behaviour(auth="certificate", pinned_sha256=pki.client_sha256)


def test_certificate_auth_passes_when_the_app_checks_the_pin(
    pki: Pki, client: tls.ClientCertificate, impostor: tls.ClientCertificate, pinned: Behaviour
) -> None:
    # The front end accepts the impostor too: only the app's pin can refuse it (403).
    server = server_context(pki, also_accept=impostor.pem)
    report = certificate_battery(
        pki, contexts(pki, client, impostor), pinned, server, Auth(certificate=True)
    )
    assert violations(report) == set()
    statuses = {r.probe.id: r.exchange.answer.status for r in report.results if r.exchange.answer}
    assert statuses["auth.impostor-cert"] == 403 and statuses["auth.none"] == 401
    assert statuses["valid.full"] == 200


def test_impostor_refused_in_the_handshake_counts_as_rejected(
    pki: Pki, client: tls.ClientCertificate, impostor: tls.ClientCertificate, pinned: Behaviour
) -> None:
    report = certificate_battery(
        pki, contexts(pki, client, impostor), pinned, server_context(pki), Auth(certificate=True)
    )
    assert violations(report) == set()
    [fake] = [r for r in report.results if r.probe.id == "auth.impostor-cert"]
    assert fake.exchange.answer is None and fake.exchange.error_kind in ("tls", "reset")


def test_subject_only_check_lets_the_impostor_in(
    pki: Pki, client: tls.ClientCertificate, impostor: tls.ClientCertificate, pinned: Behaviour
) -> None:
    broken = Behaviour(auth="certificate", subject_only=True)
    report = certificate_battery(
        pki,
        contexts(pki, client, impostor),
        broken,
        server_context(pki, also_accept=impostor.pem),
        Auth(certificate=True),
    )
    assert violations(report) == {("auth.served", "auth.impostor-cert")}


def test_basic_and_certificate_together_strip_the_other_credential_on_bad_probes(
    pki: Pki, client: tls.ClientCertificate, impostor: tls.ClientCertificate
) -> None:
    report = certificate_battery(
        pki,
        contexts(pki, client, impostor),
        Behaviour(),
        server_context(pki),
        Auth(Basic(USER, PASSWORD), certificate=True),
    )
    assert violations(report) == set()
    by_id = {r.probe.id: r.probe for r in report.results}
    assert by_id["auth.wrong-password"].tls == "none"
    assert by_id["auth.impostor-cert"].authorization is None
    assert by_id["valid.full"].tls == "client" and by_id["valid.full"].authorization


def test_untrusted_server_certificate_stops_the_run(pki: Pki, pinned: Behaviour) -> None:
    with serve(ConnectorApp(pinned), server_context(pki)) as base:
        target = Target(base + PATH, steps.ATTRIBUTES, steps.API_CONNECTOR, False)
        system_trust = tls.server_trust(None, False)
        why = r"cannot verify the server certificate of https:.*--ca FILE"
        with pytest.raises(ToolError, match=why):
            run(target, Auth(), PLAN, Contexts(system_trust, system_trust, None), timeout=2.0)


def test_refused_client_certificate_is_a_tls_finding(pki: Pki, pinned: Behaviour) -> None:
    # The server requires a certificate in the handshake and the caller has none.
    server = server_context(pki)
    server.verify_mode = ssl.CERT_REQUIRED
    trust = tls.server_trust(str(pki.ca), False)
    with serve(ConnectorApp(pinned), server) as base:
        target = Target(base + PATH, steps.ATTRIBUTES, steps.API_CONNECTOR, False)
        report = run(target, Auth(), PLAN, Contexts(trust, trust, None), timeout=2.0)
    assert ("transport.tls", "valid.full") in violations(report)
