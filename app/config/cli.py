"""`python -m app config check|hash-password|init`."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from app.auth.passwords import hash_password
from app.certs.password import read_password
from app.config.describe import describe
from app.config.loader import load_config


def register(sub: Any) -> None:
    group = sub.add_parser("config", help="configuration: check, hash-password, init")
    cmds = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = cmds.add_parser("check", help="validate the configuration and print it redacted")
    check.add_argument(
        "--config", help="TOML file (default: $CONNECTOR_CONFIG or instance/connector.toml)"
    )
    check.set_defaults(func=_check)
    hp = cmds.add_parser(
        "hash-password",
        help="make a password_hash for [[auth.basic.credentials]] (password from env or prompt)",
    )
    hp.add_argument("--algorithm", choices=("scrypt", "pbkdf2_sha256"), default="scrypt")
    hp.add_argument(
        "--password-env",
        default="CONNECTOR_BASIC_PASSWORD",
        help="environment variable holding the password (else prompt)",
    )
    hp.set_defaults(func=_hash_password)
    init = cmds.add_parser(
        "init", help="create a development configuration and password if missing"
    )
    init.add_argument("--dir", default="instance")
    init.add_argument(
        "--print-usage", action="store_true", help="print how to call the development service"
    )
    init.set_defaults(func=_init)


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(json.dumps(describe(config), indent=2))
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"ok: {config.source} is valid ({config.environment})", file=sys.stderr)
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    # The same rules as every other new secret the tools take: env or prompt (typed twice),
    # never argv, at least 12 characters.
    password = read_password(args.password_env, os.environ, prompt="Password", new=True)
    print(hash_password(password.decode("utf-8"), args.algorithm))
    return 0


DEV_CONFIG = """\
# Development configuration made by `make run` (python -m app config init).
# Every key is documented in connector.example.toml.
environment = "development"

[auth]
methods = ["basic"]

[[auth.basic.credentials]]
username = "entra"
password_env = "CONNECTOR_BASIC_PASSWORD"

[rules.email_domains]
deny = ["mailinator.com", "example.invalid"]

[[rules.attributes]]
name = "postalCode"
pattern = "^[0-9]{5}$"
message = { en = "Please enter a valid postal code.", \
fr = "Veuillez saisir un code postal valide." }
"""


def _init(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "connector.toml"
    env_file = directory / "dev.env"
    if not config.exists():
        config.write_text(DEV_CONFIG, encoding="utf-8")
        print(f"created {config}")
    if not env_file.exists():
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # A colon inside on purpose: RFC 7617 allows it, and the conformance battery
            # then proves the service splits at the first colon only.
            password = f"{secrets.token_urlsafe(12)}:{secrets.token_urlsafe(12)}"
            f.write(f"CONNECTOR_BASIC_PASSWORD={password}\n")
        print(f"created {env_file} (a random development password, mode 0600)")
    if args.print_usage:
        print(USAGE.format(env_file=env_file))
    return 0


USAGE = """
Serving on http://127.0.0.1:8000 (basic auth, user "entra", password in {env_file}). Try:

  curl -s -u "entra:$(sed -n 's/^CONNECTOR_BASIC_PASSWORD=//p' {env_file})" \\
       -H 'Content-Type: application/json' \\
       -d '{{"email": "ada@contoso.com", "postalCode": "12345", "ui_locales": "en-US"}}' \\
       http://127.0.0.1:8000/api/connector/post-attribute-collection
"""
