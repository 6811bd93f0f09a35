"""Configuration reloads (SIGHUP) of the real gunicorn, under load: nothing dropped or wrong.

A broken file is refused in the log and the last good configuration keeps serving, also in
workers forked later; a good file takes effect without a restart. Workers boot from the
master's private snapshot, and still name the operator's file in their logs.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import load
from tests.support import BASIC_TOML, Server, basic, gunicorn, post

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

URL = "/api/connector/post-attribute-collection"
DENY = BASIC_TOML + '[rules.email_domains]\ndeny = ["{domain}"]\n'
OK, BLOCK = (200, "Continue"), (200, "ShowBlockPage")


def kinds(contoso: set[load.Answer], mailinator: set[load.Answer]) -> dict[str, load.Kind]:
    return {
        "contoso": load.kind("contoso", URL, {"email": "a@contoso.com"}, basic(), *contoso),
        "mailinator": load.kind(
            "mailinator", URL, {"email": "a@mailinator.com"}, basic(), *mailinator
        ),
        "bad-credentials": load.kind(
            "bad-credentials", URL, {}, basic(password="wrong"), (401, None)
        ),
    }


def action(server: Server, email: str) -> str:
    status, _, body = post(server.url + URL, {"email": email}, basic())
    assert status == 200, body
    return str(json.loads(body)["action"])


def workers(server: Server) -> list[int]:
    path = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
    return [int(p) for p in path.read_text().split()]


def eventually(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def reload_and_wait(server: Server, marker: str, workers_wanted: int) -> None:
    """SIGHUP, then wait for `marker` in the log and the new workers to replace the old."""
    before = set(workers(server))
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log(marker, timeout=20)
    eventually(
        lambda: not before & set(workers(server)) and len(workers(server)) == workers_wanted,
        "the old workers to be replaced",
    )


def test_broken_file_is_refused_and_the_last_good_one_keeps_serving(tmp_path: Path) -> None:
    config = tmp_path / "connector.toml"
    config.write_text(DENY.format(domain="mailinator.com"))
    with gunicorn("", config_path=config, workers=2) as server:
        ks = kinds({OK}, {BLOCK})
        with load.running(server.url, ks, threads=3) as report:
            time.sleep(0.5)
            config.write_text(DENY.format(domain="contoso.com") + "[rules\n")  # broken TOML
            reload_and_wait(server, '"event":"config.reload_refused"', 2)
            time.sleep(0.5)
        print(f"\nbroken reload under load: {report.summary(ks)}")
        assert not report.wrong(ks) and not report.errors(), report.summary(ks)
        assert len(report.results) > 20
        log = server.log()
        refused = next(line for line in log.splitlines() if "config.reload_refused" in line)
        assert f"{config}: invalid TOML" in refused
        assert action(server, "a@contoso.com") == "Continue"  # the old rules, in new workers
        assert action(server, "a@mailinator.com") == "ShowBlockPage"
        assert "Worker failed to boot" not in log and server.proc.poll() is None


def test_good_file_takes_effect_without_dropping_a_request(tmp_path: Path) -> None:
    config = tmp_path / "connector.toml"
    config.write_text(DENY.format(domain="mailinator.com"))
    with gunicorn("", config_path=config, workers=2) as server:
        ks = kinds({OK, BLOCK}, {OK, BLOCK})  # either rule set is right during the switch
        with load.running(server.url, ks, threads=3) as report:
            time.sleep(0.5)
            config.write_text(DENY.format(domain="contoso.com"))
            reload_and_wait(server, '"event":"config.reloaded"', 2)
            time.sleep(0.5)
        print(f"\ngood reload under load: {report.summary(ks)}")
        assert not report.wrong(ks) and not report.errors(), report.summary(ks)
        assert action(server, "a@contoso.com") == "ShowBlockPage"
        assert action(server, "a@mailinator.com") == "Continue"
        end = max(r.at for r in report.results)
        late = [r for r in report.results if r.kind == "contoso" and r.at > end - 0.3]
        assert late and all(r.answer == BLOCK for r in late)  # the switch is complete


def test_a_worker_forked_later_boots_from_the_snapshot_not_the_broken_file(
    tmp_path: Path,
) -> None:
    config = tmp_path / "connector.toml"
    config.write_text(DENY.format(domain="mailinator.com"))
    with gunicorn("", config_path=config, workers=1) as server:
        config.write_text("[auth\n")  # saved, no SIGHUP yet
        (victim,) = workers(server)
        os.kill(victim, signal.SIGKILL)
        eventually(lambda: workers(server) not in ([], [victim]), "a replacement worker")
        eventually(lambda: _answers(server), "the replacement to answer")
        assert action(server, "a@mailinator.com") == "ShowBlockPage"
        assert server.proc.poll() is None and "Worker failed to boot" not in server.log()


def _answers(server: Server) -> bool:
    try:
        return post(server.url + URL, {"email": "a@contoso.com"}, basic(), timeout=1)[0] == 200
    except OSError:
        return False


def test_snapshot_is_private_and_logs_name_the_operators_file(tmp_path: Path) -> None:
    config = tmp_path / "connector.toml"
    config.write_text(DENY.format(domain="mailinator.com"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    with gunicorn("", config_path=config, workers=1, env={"TMPDIR": str(temp)}) as server:
        (snapshot,) = temp.glob("connector-config-*/connector.toml")
        assert snapshot.read_bytes() == config.read_bytes()
        assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
        assert stat.S_IMODE(snapshot.parent.stat().st_mode) == 0o700
        started = next(x for x in server.log().splitlines() if '"event":"app.started"' in x)
        assert json.loads(started)["config"] == str(config)
        loaded = next(x for x in server.log().splitlines() if '"event":"config.loaded"' in x)
        assert json.loads(loaded)["config"] == str(config)
    assert not snapshot.parent.exists()  # removed when the master exits


# --- the snapshot policy and the worker's settings, in process ------------------------------


@pytest.fixture
def fresh_snapshots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean snapshot state, temporary files under tmp_path, the environment restored."""
    import tempfile

    from app import gunicorn_reload
    from app.config.loader import SNAPSHOT_ENV

    monkeypatch.setattr(gunicorn_reload, "_state", gunicorn_reload._State())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(SNAPSHOT_ENV, raising=False)
    monkeypatch.setenv("TEST_BASIC_PASSWORD", "x")
    config = tmp_path / "connector.toml"
    monkeypatch.setenv("CONNECTOR_CONFIG", str(config))
    return config


def test_a_refused_file_leaves_the_last_good_snapshot_in_place(fresh_snapshots: Path) -> None:
    from app.config import load_config
    from app.config.loader import SNAPSHOT_ENV
    from app.errors import ConfigError
    from app.gunicorn_reload import current, take_snapshot

    config = fresh_snapshots
    good = DENY.format(domain="mailinator.com")
    config.write_text(good)
    first = take_snapshot()
    assert os.environ[SNAPSHOT_ENV] == str(first.path) and first.origin == config
    config.write_text(BASIC_TOML + "[rules.email_domains]\nallow = 3\n")
    with pytest.raises(ConfigError, match=r"connector.toml: rules.email_domains.allow"):
        take_snapshot()
    assert current() == first and os.environ[SNAPSHOT_ENV] == str(first.path)
    assert first.path.read_text() == good
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["connector.toml"]
    loaded = load_config()  # what a worker does: the snapshot, named after the operator's file
    assert loaded.source == str(config) and len(loaded.rules.email_domains.deny) == 1


def test_a_missing_file_is_refused_with_the_loaders_message(fresh_snapshots: Path) -> None:
    from app.errors import ConfigError
    from app.gunicorn_reload import current, take_snapshot

    with pytest.raises(ConfigError, match=r"connector\.toml: configuration file not found"):
        take_snapshot()
    assert current() is None


def test_a_broken_snapshot_is_reported_under_the_operators_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import load_config
    from app.config.loader import SNAPSHOT_ENV
    from app.errors import ConfigError

    snapshot = tmp_path / "snapshot.toml"
    snapshot.write_text("[auth\n")
    env = {"CONNECTOR_CONFIG": "/etc/connector.toml", SNAPSHOT_ENV: str(snapshot)}
    with pytest.raises(ConfigError, match=r"^/etc/connector.toml: invalid TOML"):
        load_config(environ=env)
    explicit = tmp_path / "explicit.toml"  # an explicit path ignores the snapshot
    explicit.write_text(DENY.format(domain="contoso.com"))
    config = load_config(explicit, {**env, "TEST_BASIC_PASSWORD": "x"})
    assert config.source == str(explicit)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("", 10.0), ("2", 2.0), ("2.5", 2.5), ("0", 0.5), ("100000", 300.0), ("soon", 10.0)],
)
def test_request_deadline_setting(raw: str, seconds: float) -> None:
    from app.gunicorn_worker import request_deadline

    assert request_deadline({"CONNECTOR_REQUEST_DEADLINE": raw}) == seconds
