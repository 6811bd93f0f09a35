"""Fixtures in the Flask tutorial's shape: `config`, `app`, `client`, `cli`."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.cli import main as cli_main
from app.config import Config, parse_config
from tests.support import BASIC_TOML, PASSWORD

ENV = {"TEST_BASIC_PASSWORD": PASSWORD}

RULES_TOML = """
[rules.email_domains]
deny = ["mailinator.com", "bücher.example"]

[rules.identity_providers]
deny = ["facebook.com"]

[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{5}$"
message.en = "Please enter a valid postal code."
message.fr = "Veuillez saisir un code postal valide."
message.fr-CA = "Code postal invalide, SVP."

[[rules.attributes]]
name = "Role"
allowed = ["student", "teacher"]

[[rules.claims]]
name = "Tier"
value = "standard"
steps = ["post-attribute-collection", "pre-token-issuance"]
"""


def build_config(
    toml_text: str = BASIC_TOML + RULES_TOML,
    env: dict[str, str] | None = None,
    source: str = "test.toml",
) -> Config:
    return parse_config(tomllib.loads(toml_text), source, {**ENV, **(env or {})})


@pytest.fixture
def make_config() -> Callable[..., Config]:
    return build_config


@pytest.fixture
def config() -> Config:
    return build_config()


@pytest.fixture
def app(config: Config) -> Flask:
    return create_app(config, TESTING=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliResult]]:
    def run(*argv: str) -> CliResult:
        try:
            code = cli_main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The structured events the service logs while the test runs."""
    seen: list[tuple[str, dict[str, Any]]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), dict(getattr(record, "fields", {}))))

    logger = logging.getLogger("connector")
    handler = Collect()
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "e2e: starts a real gunicorn")
