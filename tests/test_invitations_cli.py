"""`python -m app invites create|list|revoke` and `store migrate`, on both stores."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config.model import StoreConfig
from app.invites import codes
from app.store import open_store
from app.store.model import Outcome
from tests.store_support import BACKENDS, KEY, database, hashed, person
from tests.support import BASIC_TOML, PASSWORD

Cli = Callable[..., Any]


@pytest.fixture(params=BACKENDS)
def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """(config file, store URL) with the environment the commands read."""
    with database(request.param, tmp_path) as url:
        config = tmp_path / "connector.toml"
        config.write_text(BASIC_TOML + "[rules.invitations]\n", encoding="utf-8")
        monkeypatch.setenv("TEST_BASIC_PASSWORD", PASSWORD)
        monkeypatch.setenv("CONNECTOR_INVITE_KEY", KEY)
        monkeypatch.setenv("CONNECTOR_STORE_URL", url)
        yield str(config), url


def redeem(url: str, code: str, email: str = "ada@contoso.com") -> Outcome:
    store = open_store(StoreConfig(url=url))
    try:
        return store.redeem(hashed(code), person(email), datetime.now(UTC)).outcome
    finally:
        store.close()


def test_create_prints_codes_once_and_stores_only_hashes(
    cli: Cli, setup: tuple[str, str], tmp_path: Path
) -> None:
    config, url = setup
    made = cli("invites", "create", "--config", config, "--count", "3", "--json")
    assert made.code == 0, made.err
    assert "shown only now" in made.err
    records = json.loads(made.out)
    assert len({r["code"] for r in records}) == 3
    assert {r["max_uses"] for r in records} == {1}
    listed = cli("invites", "list", "--config", config, "--json")
    assert listed.code == 0
    for record in records:
        assert record["code"] not in listed.out
        assert codes.code_hash(KEY, codes.normalise(record["code"]) or "") not in listed.out
    if url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
        assert all(r["code"].replace("-", "").encode() not in raw for r in records)
    assert redeem(url, records[0]["code"]) is Outcome.REDEEMED


def test_create_with_binding_claims_expiry_and_csv(cli: Cli, setup: tuple[str, str]) -> None:
    config, url = setup
    made = cli(
        "invites",
        "create",
        "--config",
        config,
        "--email",
        "Ada@Contoso.com",
        "--max-uses",
        "2",
        "--expires",
        "2d",
        "--claim",
        "Role=teacher",
        "--claim",
        "Verified:=true",
        "--note",
        "=cmd|calc",
        "--csv",
    )
    assert made.code == 0, made.err
    [row] = list(csv.DictReader(io.StringIO(made.out)))
    assert row["email"] == "ada@contoso.com" and row["max_uses"] == "2"
    assert json.loads(row["claims"]) == {"Role": "teacher", "Verified": True}
    assert row["note"] == "'=cmd|calc"  # a spreadsheet must not run it
    expires = datetime.fromisoformat(row["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=2) - (expires - datetime.now(UTC)) < timedelta(minutes=1)
    assert redeem(url, row["code"], "bob@contoso.com") is Outcome.BOUND
    assert redeem(url, row["code"]) is Outcome.REDEEMED


def test_email_file_makes_one_bound_code_per_address(
    cli: Cli, setup: tuple[str, str], tmp_path: Path
) -> None:
    config, url = setup
    emails = tmp_path / "people.txt"
    emails.write_text("# guests\nada@contoso.com\n\nbob@fabrikam.com\n", encoding="utf-8")
    made = cli("invites", "create", "--config", config, "--email-file", str(emails), "--csv")
    assert made.code == 0, made.err
    rows = list(csv.DictReader(io.StringIO(made.out)))
    assert [r["email"] for r in rows] == ["ada@contoso.com", "bob@fabrikam.com"]
    assert redeem(url, rows[1]["code"], "ada@contoso.com") is Outcome.BOUND


def test_list_shows_state_and_uses_and_revoke(cli: Cli, setup: tuple[str, str]) -> None:
    config, url = setup
    made = json.loads(cli("invites", "create", "--config", config, "--count", "2", "--json").out)
    redeem(url, made[0]["code"])
    table = cli("invites", "list", "--config", config)
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:3] == ["ID", "STATE", "USES"]
    assert "1/1" in table.out and "0/1" in table.out
    revoked = cli("invites", "revoke", "--config", config, made[1]["id"])
    assert (revoked.code, revoked.out.strip()) == (0, f"{made[1]['id']}: revoked")
    again = cli("invites", "revoke", "--config", config, made[1]["id"])
    assert again.out.strip() == f"{made[1]['id']}: already revoked"
    states = json.loads(cli("invites", "list", "--config", config, "--json").out)
    assert sorted(r["state"] for r in states) == ["revoked", "used"]
    only = json.loads(cli("invites", "list", "--config", config, "--state", "used", "--json").out)
    assert [r["id"] for r in only] == [made[0]["id"]]
    assert redeem(url, made[1]["code"]) is Outcome.REVOKED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count: expected 1 to 10000, got 0"),
        (["--max-uses", "0"], "--max-uses: expected 1 to 100000"),
        (["--expires", "soon"], "--expires: expected a duration"),
        (["--expires", "2001-01-01"], "expected a time in the future"),
        (["--expires", "99999d"], "at most 10 years"),
        (["--claim", "Role"], "expected NAME=VALUE"),
        (["--claim", "9x=1"], "expected a claim name"),
        (["--claim", "InvitationCode=x"], "is the invitation code attribute itself"),
        (["--claim", "Level:=1.5"], "expected true, false or an integer"),
        (["--claim", "Role=" + "x" * 251], "at most 250 characters"),
        (["--email", "not-an-address"], "expected an email address"),
        (["--domain", "bad domain"], "--domain: expected a domain"),
        (["--email-file", "/nonexistent/list.txt"], "cannot read"),
    ],
)
def test_create_refuses_bad_input(
    cli: Cli, setup: tuple[str, str], args: list[str], message: str
) -> None:
    result = cli("invites", "create", "--config", setup[0], *args)
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert json.loads(cli("invites", "list", "--config", setup[0], "--json").out) == []


def test_revoke_unknown_id_fails(cli: Cli, setup: tuple[str, str]) -> None:
    result = cli("invites", "revoke", "--config", setup[0], "nope")
    assert result.code == 2 and "no invitation with id nope" in result.err


def test_missing_hash_key_is_named(
    cli: Cli, setup: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "no-rule.toml"
    config.write_text(BASIC_TOML, encoding="utf-8")
    monkeypatch.delenv("CONNECTOR_INVITE_KEY")
    result = cli("invites", "create", "--config", str(config))
    assert result.code == 2 and "CONNECTOR_INVITE_KEY must hold" in result.err
    monkeypatch.setenv("CONNECTOR_INVITE_KEY", KEY)
    result = cli("invites", "create", "--config", str(config))
    assert result.code == 0 and "not enabled" in result.err


def test_store_migrate(cli: Cli, setup: tuple[str, str]) -> None:
    first = cli("store", "migrate", "--config", setup[0])
    assert first.code == 0, first.err
    assert "schema version 1" in first.out and "applied: 1" in first.out
    second = cli("store", "migrate", "--config", setup[0])
    assert "applied: none (up to date)" in second.out
    password = setup[1].partition("://")[2].partition("@")[0].partition(":")[2]
    assert not password or password not in first.out
