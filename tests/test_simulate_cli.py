"""`python -m app simulate|conformance` end to end through app.cli.main (output, exit codes)."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator

import pytest

import app.cli
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

ATTR = "/api/connector/post-attribute-collection"
FED = "/api/connector/post-federation-signup"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    if "app.simulate.cli" not in app.cli._GROUPS:
        monkeypatch.setattr(app.cli, "_GROUPS", (*app.cli._GROUPS, "app.simulate.cli"))
    monkeypatch.setenv("CONNECTOR_BASIC_PASSWORD", PASSWORD)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    def call(*argv: str) -> tuple[int, str, str]:
        try:
            code = app.cli.main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def server() -> Iterator[str]:
    with serve(ConnectorApp(Behaviour())) as base:
        yield base


def test_both_groups_are_registered(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0 and "simulate" in out and "conformance" in out


def test_simulate_prints_status_time_body_and_verdict(run: Run, server: str) -> None:
    code, out, _ = run("simulate", server + ATTR, "--basic", USER)
    assert code == 0
    assert "HTTP 200 OK in " in out and " ms" in out
    assert '"action": "Continue"' in out
    assert "verdict: Continue, valid" in out


def test_simulate_validation_error_where_allowed_is_valid(run: Run, server: str) -> None:
    code, out, _ = run("simulate", server + ATTR, "--basic", USER, "--claim", "postalCode=ABC")
    assert code == 0 and "HTTP 400" in out and "verdict: ValidationError, valid" in out


def test_simulate_flags_a_contract_violation_and_exits_1(run: Run) -> None:
    with serve(ConnectorApp(Behaviour(validation_everywhere=True))) as base:
        code, out, _ = run("simulate", base + FED, "--basic", USER, "--claim", "postalCode=ABC")
    assert code == 1
    assert "VIOLATES the contract" in out
    assert "validation.step" in out and "at post-federation-signup" in out


def test_simulate_json(run: Run, server: str) -> None:
    code, out, _ = run(
        "simulate",
        server + "/api/connector",
        "--b2c",
        "--step",
        "post-federation-signup",
        "--basic",
        USER,
        "--json",
    )
    document = json.loads(out)
    assert code == 0 and document["status"] == 200 and document["action"] == "Continue"
    assert document["valid"] is True and document["findings"] == []


def test_show_request_hides_the_credentials(run: Run, server: str) -> None:
    code, out, _ = run(
        "simulate",
        server + ATTR,
        "--basic",
        USER,
        "--show-request",
        "--locale",
        "fr-FR",
        "--email",
        "ada@contoso.example",
    )
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert code == 0
    assert "Authorization: Basic ***" in out
    assert token not in out and PASSWORD not in out
    assert '"ui_locales": "fr-FR"' in out and '"email": "ada@contoso.example"' in out


def test_query_values_are_not_printed(run: Run, server: str) -> None:
    code, out, _ = run("simulate", server + ATTR + "?code=topsecretkey", "--basic", USER)
    assert code == 0 and "code=***" in out and "topsecretkey" not in out


def test_extension_contract_defaults_to_the_submit_event(run: Run, server: str) -> None:
    code, out, _ = run(
        "simulate",
        server + "/api/authentication-extension/x",
        "--contract",
        "authentication-extension",
        "--basic",
        USER,
        "--claim",
        "postalCode=1",
    )
    assert code == 0 and "verdict: showValidationError, valid" in out


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (("--basic", "a:b"), "expected a basic-auth user without ':'"),
        (("--cert", "c.pem"), "expected --cert and --key together"),
        (("--pfx", "c.pfx"), "a client certificate needs TLS"),
        (("--claim", "novalue"), "expected a claim as NAME=VALUE"),
        (
            ("--step", "pre-token-issuance", "--contract", "authentication-extension"),
            "has no pre-token-issuance event",
        ),
    ],
)
def test_bad_options_are_one_line_errors(
    run: Run, server: str, argv: tuple[str, ...], why: str
) -> None:
    code, _, err = run("simulate", server + ATTR, *argv)
    assert code == 2 and why in err and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (("--password", "x"), "unrecognized arguments"),
        (("--timeout", "0"), "expected 0 < seconds"),
        (("--timeout", "soon"), "expected seconds"),
    ],
)
def test_secrets_and_nonsense_are_not_accepted_on_the_command_line(
    run: Run, server: str, argv: tuple[str, ...], why: str
) -> None:
    code, _, err = run("simulate", server + ATTR, *argv)
    assert code == 2 and why in err


def test_missing_password_without_a_terminal_names_the_variable(
    run: Run, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONNECTOR_BASIC_PASSWORD")
    code, _, err = run("simulate", server + ATTR, "--basic", USER)
    assert code == 2 and "environment variable CONNECTOR_BASIC_PASSWORD" in err


def test_unreachable_endpoint(run: Run) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, _ = run("simulate", f"http://127.0.0.1:{port}{ATTR}")
    assert code == 1 and "no answer after" in out and "transport.error" in out
    code, _, err = run("conformance", f"http://127.0.0.1:{port}{ATTR}")
    assert code == 2 and f"cannot connect to 127.0.0.1:{port}" in err
    code, _, err = run("simulate", "ftp://example.com/x")
    assert code == 2 and "expected an http:// or https:// URL" in err


def test_conformance_passes_and_prints_a_table(run: Run, server: str) -> None:
    code, out, _ = run(
        "conformance",
        server + ATTR,
        server + FED,
        "--basic",
        USER,
        "--invalid-claim",
        "postalCode=ABC",
        "--blocked-email",
        "x@blocked.example",
    )
    assert code == 0
    assert out.count("[api-connector, post-") == 2
    assert "RESULT" in out and "auth.colon-password" in out
    assert out.rstrip().endswith("violations, 0 warnings: PASS")


def test_conformance_fails_with_a_violation_row(run: Run) -> None:
    with serve(ConnectorApp(Behaviour(auth_skipped=True))) as base:
        code, out, _ = run("conformance", base + ATTR, "--basic", USER)
        assert code == 1
        assert "VIOLATION  auth.served" in out and out.rstrip().endswith("FAIL")
        code, out, _ = run("conformance", base + ATTR, "--basic", USER, "--json")
    document = json.loads(out)
    assert code == 1 and document["summary"]["passed"] is False
    [target] = document["targets"]
    none = next(p for p in target["probes"] if p["id"] == "auth.none")
    assert none["status"] == 200 and none["findings"][0]["check"] == "auth.served"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_simulate_and_conformance_with_a_pfx_over_tls(
    run: Run, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_PFX_PASSWORD", pki.pfx_password)
    behaviour = Behaviour(auth="certificate", pinned_sha256=pki.client_sha256)
    with serve(ConnectorApp(behaviour), server_context(pki)) as base:
        code, out, _ = run(
            "simulate", base + ATTR, "--pfx", str(pki.client_pfx), "--ca", str(pki.ca)
        )
        assert code == 0 and "verdict: Continue, valid" in out
        code, out, _ = run(
            "conformance",
            base + ATTR,
            "--cert",
            str(pki.client_cert),
            "--key",
            str(pki.client_key),
            "--insecure",
        )
        assert code == 0 and "auth.impostor-cert" in out
        code, out, _ = run("simulate", base + ATTR, "--ca", str(pki.ca))
        assert code == 1 and "credentials" in out and "HTTP 401" in out
        code, _, err = run("simulate", base + ATTR)  # system trust does not know the test CA
        assert code == 2 and "cannot verify the server certificate" in err and "--ca FILE" in err
