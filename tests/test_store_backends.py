"""Both store back ends behave the same: migrations, redemption outcomes, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from app.config.model import StoreConfig
from app.errors import StoreError
from app.store import open_store, redacted_url, schema
from app.store.model import Claimant, Outcome, RevokeResult, Store
from app.store.pg_pool import describe_url
from tests.store_support import (
    BACKENDS,
    add_invite,
    database,
    hashed,
    make_store,
    person,
    store_for,
)

NOW = datetime.now(UTC)
ADA, BOB = person("ada@contoso.com"), person("bob@contoso.com")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with store_for(request.param, tmp_path) as s:
        yield s


def uses(store: Store, invite_id: str) -> int:
    return next(r.uses for r in store.list_invites() if r.id == invite_id)


@pytest.mark.parametrize("kind", BACKENDS)
def test_migrate_applies_once_and_reports_version(kind: str, tmp_path: Path) -> None:
    with database(kind, tmp_path) as url:
        first, second = make_store(url), make_store(url)
        try:
            assert first.migrate().applied == (1,)
            report = second.migrate()
            assert (report.applied, report.version) == ((), 1)
            assert first.ping()["schema_version"] == 1
            password = urlsplit(url).password
            assert password is None or password not in report.location
        finally:
            first.close()
            second.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_migrate_refuses_newer_or_edited_schema(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database(kind, tmp_path) as url:
        store = make_store(url)
        store.migrate()
        store.close()
        edited = schema.Migration(1, "invitations", "SELECT 1;", "0" * 64)
        monkeypatch.setattr(schema, "migrations", lambda backend: (edited,))
        with pytest.raises(StoreError, match="changed after it was applied"):
            make_store(url).migrate()
        monkeypatch.setattr(schema, "migrations", lambda backend: ())
        with pytest.raises(StoreError, match="newer than this code knows"):
            make_store(url).migrate()


def test_single_use_replay_and_second_person(store: Store) -> None:
    invite_id, code = add_invite(store, claims={"Role": "teacher"})
    first = store.redeem(hashed(code), ADA, NOW)
    assert first.outcome is Outcome.REDEEMED and dict(first.claims) == {"Role": "teacher"}
    again = store.redeem(hashed(code), ADA, NOW)  # Entra's retry
    assert again.outcome is Outcome.REPLAYED and dict(again.claims) == {"Role": "teacher"}
    assert uses(store, invite_id) == 1
    other = store.redeem(hashed(code), BOB, NOW)
    assert other.outcome is Outcome.USED_UP and not other.claims


def test_multi_use_counts_distinct_redeemers(store: Store) -> None:
    invite_id, code = add_invite(store, max_uses=3)
    outcomes = [store.redeem(hashed(code), person(f"u{i}@x.org"), NOW).outcome for i in range(4)]
    assert outcomes == [Outcome.REDEEMED] * 3 + [Outcome.USED_UP]
    assert store.redeem(hashed(code), person("u1@x.org"), NOW).outcome is Outcome.REPLAYED
    assert uses(store, invite_id) == 3


@pytest.mark.parametrize(
    ("bind", "who", "outcome"),
    [
        ({"email": "ada@contoso.com"}, "ada@contoso.com", Outcome.REDEEMED),
        ({"email": "ada@contoso.com"}, "bob@contoso.com", Outcome.BOUND),
        ({"domain": "contoso.com"}, "bob@contoso.com", Outcome.REDEEMED),
        ({"domain": "contoso.com"}, "bob@mail.contoso.com", Outcome.BOUND),
        ({"domain": "contoso.com"}, "bob@fabrikam.com", Outcome.BOUND),
    ],
)
def test_binding(store: Store, bind: dict[str, str], who: str, outcome: Outcome) -> None:
    _, code = add_invite(store, **bind)  # type: ignore[arg-type]
    assert store.redeem(hashed(code), person(who), NOW).outcome is outcome


def test_expiry_wins_even_over_a_replay(store: Store) -> None:
    _, code = add_invite(store, expires_at=NOW + timedelta(hours=1))
    assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REDEEMED
    later = NOW + timedelta(hours=2)
    assert store.redeem(hashed(code), ADA, later).outcome is Outcome.EXPIRED
    assert store.redeem(hashed(code), BOB, later).outcome is Outcome.EXPIRED


def test_revocation(store: Store) -> None:
    invite_id, code = add_invite(store, max_uses=5)
    assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REDEEMED
    assert store.revoke_invite(invite_id, NOW) is RevokeResult.REVOKED
    assert store.revoke_invite(invite_id, NOW) is RevokeResult.ALREADY
    assert store.revoke_invite("no-such-id", NOW) is RevokeResult.UNKNOWN
    assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REVOKED
    assert store.redeem(hashed(code), BOB, NOW).outcome is Outcome.REVOKED
    [row] = store.list_invites()
    assert row.state(NOW) == "revoked" and row.revoked_at is not None


def test_unknown_code_and_list_states(store: Store) -> None:
    assert store.redeem(hashed("0" * 28), ADA, NOW).outcome is Outcome.UNKNOWN
    add_invite(store, expires_at=NOW - timedelta(seconds=5))
    _, used = add_invite(store)
    store.redeem(hashed(used), ADA, NOW)
    add_invite(store)
    assert sorted(r.state(NOW) for r in store.list_invites()) == ["active", "expired", "used"]


@pytest.mark.parametrize("max_uses", [1, 5])
def test_concurrent_redemptions_never_exceed_max_uses(store: Store, max_uses: int) -> None:
    invite_id, code = add_invite(store, max_uses=max_uses)
    gate = threading.Barrier(24)
    results: list[Outcome] = []
    lock = threading.Lock()

    def sign_up(i: int) -> None:
        gate.wait()
        outcome = store.redeem(hashed(code), person(f"user{i}@contoso.com"), NOW).outcome
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(results) == {Outcome.REDEEMED: max_uses, Outcome.USED_UP: 24 - max_uses}
    assert uses(store, invite_id) == max_uses


@pytest.mark.parametrize("max_uses", [1, 5])
def test_concurrent_retries_by_one_person_use_one_use(store: Store, max_uses: int) -> None:
    invite_id, code = add_invite(store, max_uses=max_uses)
    gate = threading.Barrier(16)
    results: list[Outcome] = []

    def retry() -> None:
        gate.wait()
        results.append(store.redeem(hashed(code), ADA, NOW).outcome)

    threads = [threading.Thread(target=retry) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(results) == {Outcome.REDEEMED: 1, Outcome.REPLAYED: 15}
    assert uses(store, invite_id) == 1


def test_a_redemption_failing_half_way_records_nothing(store: Store, tmp_path: Path) -> None:
    """The use is taken, then recording the redeemer fails: the use must come back."""
    invite_id, code = add_invite(store, max_uses=2)
    doomed = Claimant("doomed", "ada@contoso.com", "contoso.com")
    if store.backend == "sqlite":
        with sqlite3.connect(tmp_path / "store.db") as db:
            db.execute(
                "CREATE TRIGGER doom BEFORE INSERT ON invite_redemptions "
                "WHEN NEW.redeemer = 'doomed' BEGIN SELECT RAISE(ABORT, 'doomed'); END"
            )
    else:
        with psycopg.connect(store.url) as db:  # type: ignore[attr-defined]
            db.execute(
                "ALTER TABLE invite_redemptions ADD CONSTRAINT doom CHECK (redeemer <> 'doomed')"
            )
    with pytest.raises(StoreError, match="doom"):
        store.redeem(hashed(code), doomed, NOW)
    assert uses(store, invite_id) == 0
    outcomes = [store.redeem(hashed(code), p, NOW).outcome for p in (ADA, BOB, ADA)]
    assert outcomes == [Outcome.REDEEMED, Outcome.REDEEMED, Outcome.REPLAYED]
    assert uses(store, invite_id) == 2


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://u:s3cret@db:5432/x?sslmode=require",
            "postgresql://u:***@db:5432/x?sslmode=require",
        ),
        ("postgresql://u:p@ss@db/x", "postgresql://u:***@db/x"),
        (
            "postgresql://db/x?password=s3cret&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
        ("sqlite:///instance/connector.db", "sqlite:///instance/connector.db"),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_store_locations_name_the_database_not_the_password() -> None:
    assert describe_url("postgresql://u:s3cret@db:5432/x") == "postgresql://u@db:5432/x"
    assert describe_url("postgresql://db/x?password=s3cret") == "postgresql://db/x"


def test_an_unknown_store_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(StoreError, match=r"expected sqlite:///PATH") as caught:
        open_store(StoreConfig(url="mysql://u:s3cret@db/x"))
    assert "s3cret" not in str(caught.value)
