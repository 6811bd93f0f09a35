"""Invitation codes through the real gunicorn with 4 workers, on both stores."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store.model import Store
from tests.store_support import BACKENDS, KEY, add_invite, database, make_store
from tests.support import BASIC_TOML, Server, basic, gunicorn, post

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SUBMIT = "/api/connector/post-attribute-collection"
CONFIG = BASIC_TOML + "[rules.invitations]\nrequired = true\n"


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Store]]:
    with database(request.param, tmp_path_factory.mktemp("store")) as url:
        store = make_store(url)
        store.migrate()
        env = {"CONNECTOR_STORE_URL": url, "CONNECTOR_INVITE_KEY": KEY}
        try:
            with gunicorn(CONFIG, env=env, workers=4) as server:
                yield server, store
        finally:
            store.close()


def sign_up_together(server: Server, code: str, people: int) -> list[tuple[int, dict[str, Any]]]:
    """`people` sign-ups with one code, released at the same instant."""
    gate = threading.Barrier(people)
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        body = {"email": f"user{i}@contoso.com", "extension_InvitationCode": code}
        gate.wait()
        status, _, raw = post(server.url + SUBMIT, body, basic(), timeout=20)
        with lock:
            answers.append((status, json.loads(raw)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@pytest.mark.parametrize("max_uses", [1, 5])
def test_fifty_simultaneous_sign_ups(served: tuple[Server, Store], max_uses: int) -> None:
    server, store = served
    invite_id, code = add_invite(store, max_uses=max_uses, claims={"Role": "guest"})
    answers = sign_up_together(server, code, 50)
    actions = Counter(body["action"] for _, body in answers)
    assert actions == {"Continue": max_uses, "ValidationError": 50 - max_uses}, answers
    winners = [body for status, body in answers if status == 200]
    assert all(b["extension_Role"] == "guest" for b in winners)
    losers = {body["userMessage"] for status, body in answers if status == 400}
    assert losers == {"The invitation code has already been used."}
    assert next(r.uses for r in store.list_invites() if r.id == invite_id) == max_uses


def test_entra_retry_is_answered_the_same(served: tuple[Server, Store]) -> None:
    server, store = served
    _, code = add_invite(store)
    body = {"email": "ada@contoso.com", "extension_InvitationCode": code}
    first = post(server.url + SUBMIT, body, basic())
    second = post(server.url + SUBMIT, body, basic())
    assert first[0] == second[0] == 200
    assert json.loads(first[2]) == json.loads(second[2])


def test_readyz_reports_the_store(served: tuple[Server, Store]) -> None:
    server, store = served
    with urllib.request.urlopen(server.url + "/readyz", timeout=5) as r:
        check = json.loads(r.read())["checks"]["store"]
    assert check["ok"] is True and check["backend"] == store.backend


def test_no_code_or_secret_in_the_logs(served: tuple[Server, Store], tmp_path: Path) -> None:
    server, store = served
    _, code = add_invite(store)
    post(
        server.url + SUBMIT, {"email": "eve@contoso.com", "extension_InvitationCode": code}, basic()
    )
    text = server.wait_for_log('"email":"e***@contoso.com"')
    assert code not in text and code.replace("-", "") not in text and KEY not in text
