"""`python -m app invites create|list|revoke`: invitation codes in the configured store."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import Config, load_config
from app.errors import ToolError
from app.invites import issue as issuing
from app.invites import output
from app.store import open_store
from app.store.model import RevokeResult, Store

_MIN_KEY = 32
_STATES = ("active", "expired", "revoked", "used")


def register(sub: Any) -> None:
    group = sub.add_parser("invites", help="invitation codes: create, list, revoke")
    cmds = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = cmds.add_parser("create", help="make codes (printed once) and store their hashes")
    create.add_argument("--count", type=int, default=1, help="how many codes (default 1)")
    create.add_argument("--max-uses", type=int, default=1, help="sign-ups per code (default 1)")
    create.add_argument(
        "--expires", default="30d", help="30d, 12h, 90m, 2w, an ISO date/datetime, or never"
    )
    bind = create.add_mutually_exclusive_group()
    bind.add_argument("--email", help="only this email address can redeem the code")
    bind.add_argument("--domain", help="only addresses at this domain can redeem the code")
    bind.add_argument(
        "--email-file",
        help="one address per line ('-' for stdin): one code bound to each (mail merge)",
    )
    create.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="claim returned with Continue on redemption (NAME:=true / NAME:=42 for typed)",
    )
    create.add_argument("--note", default="", help="free text shown by `invites list`")
    _common(create)
    create.set_defaults(func=_create)

    listing = cmds.add_parser("list", help="show invitations (never their codes)")
    listing.add_argument("--state", choices=_STATES, help="only invitations in this state")
    _common(listing)
    listing.set_defaults(func=_list)

    revoke = cmds.add_parser("revoke", help="revoke invitations by id")
    revoke.add_argument("ids", nargs="+", metavar="ID")
    revoke.add_argument("--config", help="TOML file (default: $CONNECTOR_CONFIG)")
    revoke.set_defaults(func=_revoke)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file (default: $CONNECTOR_CONFIG)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json", default="table")
    fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv")


def hash_key(config: Config, environ: dict[str, str] | None = None) -> str:
    """The configured key; also usable before the rule is enabled (codes made in advance)."""
    rule = config.rules.invitations
    if rule.hash_key is not None:
        return rule.hash_key.reveal()
    value = (os.environ if environ is None else environ).get(rule.hash_key_env, "")
    if len(value) < _MIN_KEY:
        raise ToolError(
            f"environment variable {rule.hash_key_env} must hold the invitation hash key "
            f"(at least {_MIN_KEY} random characters), got {'nothing' if not value else 'less'}"
        )
    return value


def _store(config: Config) -> Store:
    return open_store(config.store)


def _create(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    key = hash_key(config)
    now = datetime.now(UTC)
    attribute = config.rules.invitations.attribute
    issuing.check_limits(args.count, args.max_uses, args.note)
    if args.email_file:
        if args.count != 1:
            raise ToolError("--email-file makes one code per address: leave out --count")
        emails: tuple[str | None, ...] = issuing.read_emails(_read_lines(args.email_file))
    elif args.email:
        emails = (issuing.parse_email(args.email),) * args.count
    else:
        emails = (None,) * args.count
    spec = issuing.IssueSpec(
        max_uses=args.max_uses,
        expires_at=issuing.parse_expiry(args.expires, now),
        emails=emails,
        domain=issuing.parse_domain(args.domain) if args.domain else None,
        claims=dict(issuing.parse_claim(c, attribute) for c in args.claim),
        note=args.note,
    )
    store = _store(config)
    try:
        issued = issuing.issue(store, key, spec, now)
    finally:
        store.close()
    print(output.render(output.created_records(issued), args.fmt))
    print(
        f"created {len(issued)} invitation(s): the codes are shown only now (the store keeps "
        "keyed hashes); a lost code cannot be recovered, revoke it and create another",
        file=sys.stderr,
    )
    if not config.rules.invitations.enabled:
        print(
            f"warning: [rules.invitations] is not enabled in {config.source}: "
            "sign-ups ignore codes until it is",
            file=sys.stderr,
        )
    return 0


def _read_lines(name: str) -> list[str]:
    if name == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(name).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"--email-file: cannot read {name}: {exc}") from exc


def _list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = _store(config)
    try:
        rows = store.list_invites()
    finally:
        store.close()
    now = datetime.now(UTC)
    records = output.listed_records(rows, now)
    if args.state:
        records = [r for r in records if r["state"] == args.state]
    print(output.render(records, args.fmt))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = _store(config)
    unknown = []
    try:
        for invite_id in args.ids:
            result = store.revoke_invite(invite_id.strip(), datetime.now(UTC))
            if result is RevokeResult.UNKNOWN:
                unknown.append(invite_id)
            else:
                print(f"{invite_id}: {result.value}")
    finally:
        store.close()
    if unknown:
        raise ToolError(f"no invitation with id {', '.join(unknown)} (see `invites list`)")
    return 0
