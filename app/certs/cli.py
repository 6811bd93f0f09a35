"""`python -m app certs create|inspect|convert|check`: the certificate lifecycle (SPEC §5)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.certs.check import check_certificates
from app.certs.convert import convert
from app.certs.create import CreateOptions, create
from app.certs.inspect import inspect_file
from app.certs.keys import KEY_TYPES
from app.certs.password import DEFAULT_PASSWORD_ENV, check_env_name
from app.errors import ToolError

_PASSWORD_HELP = (
    f"environment variable holding the password (default {DEFAULT_PASSWORD_ENV}); "
    "without it you are prompted. Never give a password on the command line."
)


def register(sub: Any) -> None:
    """Add the "certs" command group to the top-level sub-parsers."""
    group = sub.add_parser(
        "certs",
        help="certificates: create, inspect, convert, check",
        description="The certificate lifecycle: make the client certificate Entra presents, "
        "inspect and fix .pfx files, and watch the expiry of every configured certificate.",
    )
    cmds = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_create(cmds)

    inspect = cmds.add_parser(
        "inspect",
        help="show what a .pfx/.p12, PEM or DER file holds and whether Entra accepts a .pfx",
    )
    inspect.add_argument("file", type=Path, metavar="FILE")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.add_argument(
        "--password-env", default=DEFAULT_PASSWORD_ENV, metavar="NAME", help=_PASSWORD_HELP
    )
    inspect.set_defaults(func=_inspect)

    conv = cmds.add_parser(
        "convert",
        help="re-encrypt a .pfx (e.g. AES-256/PBES2) the way Entra accepts (3DES, SHA-1 MAC)",
    )
    conv.add_argument("source", type=Path, metavar="IN.pfx")
    conv.add_argument("target", type=Path, metavar="OUT.pfx")
    conv.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="NAME",
        help=_PASSWORD_HELP + " The output keeps the same password.",
    )
    conv.add_argument("--force", action="store_true", help="overwrite OUT.pfx if it exists")
    conv.set_defaults(func=_convert)

    check = cmds.add_parser(
        "check",
        help="days left on configured pin files, CA bundle and TLS files "
        "(exit 0 fine, 1 expiring within the window, 2 expired or unreadable)",
    )
    check.add_argument(
        "--warn-days",
        type=_non_negative,
        metavar="N",
        help="warning window in days (default: auth.certificate.expiry_warning_days)",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--config", help="TOML file (default: $CONNECTOR_CONFIG or instance/connector.toml)"
    )
    check.set_defaults(func=_check)


def _add_create(cmds: Any) -> None:
    create_parser = cmds.add_parser(
        "create",
        help="make a key and certificate for Entra (.pfx, .pem, .key), a private CA, "
        "or a certificate issued by that CA",
    )
    add = create_parser.add_argument
    add("--subject", required=True, help='RFC 4514 subject, e.g. "CN=api.contoso"')
    add("--days", type=int, help="validity (default 365; 1825 with --ca)")
    add(
        "--key",
        dest="key_type",
        choices=KEY_TYPES,
        default="rsa2048",
        help="key type (default rsa2048, what Entra's docs recommend)",
    )
    add("--out", type=Path, default=Path(), metavar="DIR", help="output directory (default .)")
    add("--name", help="file name stem (default: from the CN)")
    add(
        "--san",
        action="append",
        default=[],
        metavar="NAME",
        help="subjectAltName DNS name or IP (repeatable; default: the CN when it is a host name)",
    )
    add("--no-san", action="store_true", help="no subjectAltName extension")
    add("--ca", action="store_true", help="make a private CA (writes NAME.pem and NAME.key)")
    add("--issuer", type=Path, metavar="CA.pem", help="issue from this CA instead of self-signing")
    add("--issuer-key", type=Path, metavar="CA.key", help="the CA's private key (PEM)")
    add(
        "--issuer-password-env",
        metavar="NAME",
        help="environment variable with the CA key's password (default: --password-env)",
    )
    add("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="NAME", help=_PASSWORD_HELP)
    add(
        "--no-key-password",
        action="store_true",
        help="write NAME.key unencrypted (it is 0600 either way)",
    )
    add("--force", action="store_true", help="overwrite existing output files")
    create_parser.set_defaults(func=_create)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more days, got {value}")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _create(args: argparse.Namespace) -> int:
    if args.issuer_password_env:
        check_env_name(args.issuer_password_env, "--issuer-password-env")
    options = CreateOptions(
        subject=args.subject,
        out_dir=args.out,
        key_type=args.key_type,
        days=args.days,
        name=args.name,
        san=tuple(args.san),
        no_san=args.no_san,
        ca=args.ca,
        issuer=args.issuer,
        issuer_key=args.issuer_key,
        password_env=args.password_env,
        issuer_password_env=args.issuer_password_env,
        key_password=not args.no_key_password,
        force=args.force,
    )
    return create(options, os.environ, _now(), sys.stdout)


def _inspect(args: argparse.Namespace) -> int:
    check_env_name(args.password_env)
    report = inspect_file(args.file, os.environ, args.password_env, _now())
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0


def _convert(args: argparse.Namespace) -> int:
    check_env_name(args.password_env)
    if args.source.resolve() == args.target.resolve() and not args.force:
        raise ToolError(f"{args.target} is the input file: give another name, or --force")
    return convert(
        args.source, args.target, os.environ, args.password_env, force=args.force, out=sys.stdout
    )


def _check(args: argparse.Namespace) -> int:
    from app.config import load_config

    config = load_config(args.config)
    report = check_certificates(config, os.environ, args.warn_days, _now())
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return report.exit_code
