"""Fail closed when the store is locked, slow or gone; recover by itself when it is back."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import create_app
from app.config import parse_config
from app.errors import StoreError
from app.store.model import Outcome, Store
from tests.store_support import (
    KEY,
    PG_URL,
    add_invite,
    database,
    hashed,
    make_store,
    needs_postgres,
    person,
    store_for,
)
from tests.support import BASIC_TOML, PASSWORD, basic, free_port

NOW = datetime.now(UTC)
ADA = person("ada@contoso.com")
TRY_AGAIN = "Something went wrong. Please try again in a moment."


def test_sqlite_write_lock_held_elsewhere_fails_within_the_deadline(tmp_path: Path) -> None:
    with store_for("sqlite", tmp_path, timeout_ms=200) as store:
        _, code = add_invite(store)
        other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another worker stuck inside a write
        started = time.monotonic()
        with pytest.raises(StoreError, match="database is locked"):
            store.redeem(hashed(code), ADA, NOW)
        assert time.monotonic() - started < 1.0
        other.execute("ROLLBACK")
        other.close()
        assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REDEEMED
        assert store.list_invites()[0].uses == 1


def test_sqlite_locked_answers_try_again_then_recovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {"TEST_BASIC_PASSWORD": PASSWORD, "CONNECTOR_INVITE_KEY": KEY, "CONNECTOR_STORE_URL": url}
    toml = BASIC_TOML + "[rules.invitations]\n[store]\nstatement_timeout_ms = 100\n"
    app = create_app(parse_config(tomllib.loads(toml), "t.toml", env), TESTING=True)
    store = app.extensions["connector"].store
    _, code = add_invite(store)
    client = app.test_client()
    body = {"email": "ada@contoso.com", "extension_InvitationCode": code}
    submit = "/api/connector/post-attribute-collection"
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    answer = client.post(submit, json=body, headers=basic())
    assert (answer.status_code, answer.get_json()["userMessage"]) == (400, TRY_AGAIN)
    assert client.get("/readyz").status_code == 200  # reads still work under a writer
    other.execute("ROLLBACK")
    other.close()
    answer = client.post(submit, json=body, headers=basic())
    assert (answer.status_code, answer.get_json()["action"]) == (200, "Continue")
    store.close()


@pytest.mark.parametrize("lock", ["row", "table"])
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason=needs_postgres[1].kwargs["reason"])
def test_postgres_lock_held_elsewhere_fails_within_the_deadline(tmp_path: Path, lock: str) -> None:
    import psycopg

    with store_for("postgresql", tmp_path, timeout_ms=200) as store:
        invite_id, code = add_invite(store)
        url = store.url  # type: ignore[attr-defined]
        with psycopg.connect(url) as other:  # a transaction left open elsewhere
            if lock == "row":
                other.execute("SELECT 1 FROM invites WHERE id = %s FOR UPDATE", (invite_id,))
            else:
                other.execute("LOCK TABLE invites IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(
                StoreError, match=r"canceling statement due to (lock|statement) timeout"
            ):
                store.redeem(hashed(code), ADA, NOW)
            assert time.monotonic() - started < 1.0
            other.rollback()
        assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REDEEMED
        assert store.list_invites()[0].uses == 1


class Proxy:
    """A TCP relay in front of PostgreSQL that can be unplugged and plugged back in."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def down(self) -> None:
        """The server is gone: open connections die, new ones are refused."""
        listener, self._listener = self._listener, None
        if self._acceptor is not None:
            self._acceptor.join()  # it stops within its accept timeout
        if listener is not None:
            listener.close()
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for s in doomed:
            _close(s)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Proxy, str]]:
    """(proxy, store URL through it) on a fresh schema."""
    with database("postgresql", tmp_path) as url:
        parts = urlsplit(url)
        proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{proxy.port}"
        via = url.replace(parts.netloc, f"{netloc[0]}@{host}" if len(netloc) == 2 else host, 1)
        try:
            yield proxy, via
        finally:
            proxy.down()


def eventually_redeems(store: Store, code: str, seconds: float = 15.0) -> float:
    """Seconds until a redemption succeeds again, retrying like users would."""
    started = time.monotonic()
    while True:
        try:
            outcome = store.redeem(hashed(code), ADA, datetime.now(UTC)).outcome
            assert outcome.ok, outcome
            return time.monotonic() - started
        except StoreError:
            if time.monotonic() - started > seconds:
                raise
            time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason=needs_postgres[1].kwargs["reason"])
def test_postgres_gone_fails_fast_and_recovers_by_itself(proxied: tuple[Proxy, str]) -> None:
    proxy, url = proxied
    store = make_store(url, timeout_ms=300)
    try:
        store.migrate()
        _, code = add_invite(store)
        assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REDEEMED
        # A restart: every pooled connection is dead, the server is back at once.
        proxy.down()
        proxy.up()
        assert store.redeem(hashed(code), ADA, NOW).outcome is Outcome.REPLAYED
        proxy.down()
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreError):
                store.redeem(hashed(code), ADA, NOW)
            assert time.monotonic() - started < 1.0
        proxy.up()
        assert eventually_redeems(store, code) < 10.0
        assert store.list_invites()[0].uses == 1
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason=needs_postgres[1].kwargs["reason"])
def test_app_starts_without_the_store_and_answers_try_again(
    proxied: tuple[Proxy, str],
) -> None:
    proxy, url = proxied
    direct = make_store(url)
    direct.migrate()
    _, code = add_invite(direct)
    direct.close()
    proxy.down()
    env = {"TEST_BASIC_PASSWORD": PASSWORD, "CONNECTOR_INVITE_KEY": KEY, "CONNECTOR_STORE_URL": url}
    config = parse_config(tomllib.loads(BASIC_TOML + "[rules.invitations]\n"), "t.toml", env)
    started = time.monotonic()
    app = create_app(config, TESTING=True)
    assert time.monotonic() - started < 4.0  # never blocks start-up for long
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["store"] == {
            "ok": False,
            "backend": "postgresql",
            "in_use": True,
            "error": "unavailable",
        }
        body = {"email": "ada@contoso.com", "extension_InvitationCode": code}
        url_submit = "/api/connector/post-attribute-collection"
        answer = client.post(url_submit, json=body, headers=basic())
        assert answer.status_code == 400
        assert answer.get_json()["userMessage"] == TRY_AGAIN
        proxy.up()
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "store did not come back"
            time.sleep(0.2)
        answer = client.post(url_submit, json=body, headers=basic())
        assert answer.status_code == 200 and answer.get_json()["action"] == "Continue"
    finally:
        app.extensions["connector"].store.close()
