"""Schemathesis against the real gunicorn: no server error, every answer as /openapi.json says.

Checks: not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance, on schema-conforming (positive) and schema-violating
(negative) requests for every operation. `negative_data_rejection` is left out on purpose:
the contract answers an unusable body with a blocking 200, not a 4xx (SPEC §3).
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.fuzzing import SCALE, count
from tests.support import BASIC_TOML, Server, basic, gunicorn

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install -r requirements-dev.txt)"
)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytest_plugins = ["tests.fuzz_report"]
pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
RULES = """
[rules.email_domains]
deny = ["mailinator.com"]
[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{5}$"
[[rules.claims]]
name = "Tier"
value = "standard"
"""
# Development with "none" lets the authentication-extension operations be explored past auth.
OPEN = 'environment = "development"\n[auth]\nmethods = ["none"]\n' + RULES
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 20}


@pytest.fixture(scope="module")
def production() -> Iterator[Server]:
    with gunicorn(BASIC_TOML + RULES, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def development() -> Iterator[Server]:
    with gunicorn(OPEN, workers=1) as server:
        yield server


def fetch_document(server: Server) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/openapi.json", timeout=5) as r:
        document: dict[str, Any] = json.loads(r.read())
    return document


def explore(server: Server, document: dict[str, Any], only: str, label: str) -> list[str]:
    """Run every operation whose path starts with `only`; the failures found, deduplicated."""
    schema = schemathesis.openapi.from_dict(document)
    failures: dict[str, str] = {}
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith(only)]
    assert operations, f"no operation under {only} in /openapi.json"
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            run_operation(server, operation, mode, examples, f"{label} ({mode.value})", failures)
    return [failures[k][:1500] for k in sorted(failures)]


def run_operation(
    server: Server,
    operation: Any,
    mode: GenerationMode,
    examples: int,
    label: str,
    failures: dict[str, str],
) -> None:
    @settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        count(f"schemathesis: {label}")
        try:
            case.call_and_validate(base_url=server.url, headers=basic(), checks=CHECKS, timeout=10)
        except (AssertionError, FailureGroup) as exc:
            failures.setdefault(f"{operation.label}: {str(exc)[:200]}", str(exc))

    try:
        run()
    except Unsatisfiable:
        # Nothing can violate the schema of an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no case generated"


def test_connector_operations_conform(production: Server) -> None:
    failures = explore(production, fetch_document(production), "/", "production, basic auth")
    assert not failures, "\n\n".join(failures)
    assert "Traceback" not in production.log()


def test_extension_operations_conform_past_auth(development: Server) -> None:
    failures = explore(
        development, fetch_document(development), "/api/authentication-extension", "no auth"
    )
    assert not failures, "\n\n".join(failures)
    assert "Traceback" not in development.log()


def test_the_checks_catch_an_undocumented_answer(production: Server) -> None:
    """The harness can fail: drop the documented 401 and the always-401 operation is flagged."""
    document = copy.deepcopy(fetch_document(production))
    start = "/api/authentication-extension/attribute-collection-start"
    del document["paths"][start]["post"]["responses"]["401"]
    failures = explore(production, document, start, "self-check")
    assert failures and "Undocumented status code" in failures[0]
