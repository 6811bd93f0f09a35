"""Faults under load against the real gunicorn, each printing its result (run with -s to see).

- a worker killed with SIGKILL: no wrong answer, the worker replaced;
- a client-certificate pin rollover through two SIGHUP reloads: no request dropped, old and
  new pins both honoured during the overlap;
- PostgreSQL stopped and started again: invitation redemptions answer "try again" (never
  Continue) while it is down, and recover by themselves, without a restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import load, pki
from tests.support import BASIC_TOML, ROOT, basic, gunicorn
from tests.test_reload import eventually, workers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBMIT = "/api/connector/post-attribute-collection"
CONTINUE, BLOCK, INVALID = (200, "Continue"), (200, "ShowBlockPage"), (400, "ValidationError")
RULES = '[rules.email_domains]\ndeny = ["mailinator.com"]\n'


def mixed() -> dict[str, load.Kind]:
    return {
        "valid": load.kind("valid", SUBMIT, {"email": "a@contoso.com"}, basic(), CONTINUE),
        "blocked": load.kind("blocked", SUBMIT, {"email": "a@mailinator.com"}, basic(), BLOCK),
        "bad-credentials": load.kind("bad-credentials", SUBMIT, {}, basic(password="x"),
                                     (401, None)),
        "malformed": load.kind("malformed", SUBMIT, b"{not json", basic(), BLOCK),
    }  # fmt: skip


def test_worker_killed_mid_load_is_replaced_and_nothing_is_answered_wrongly() -> None:
    ks = mixed()
    with gunicorn(BASIC_TOML + RULES, workers=2) as server:
        before = workers(server)
        with load.running(server.url, ks, threads=4) as report:
            time.sleep(0.7)
            os.kill(before[0], signal.SIGKILL)
            eventually(lambda: len(set(workers(server)) - set(before)) == 1, "a new worker")
            time.sleep(1.0)
        after = workers(server)
        print(f"\nSIGKILL of worker {before[0]} mid-load: {report.summary(ks)}")
        assert not report.wrong(ks), report.summary(ks)
        # Only requests the killed worker held may go unanswered (Entra retries once).
        assert len(report.errors()) <= 8, report.summary(ks)
        assert before[0] not in after and len(after) == 2
        assert server.proc.poll() is None
        late = [r for r in report.results if r.at > report.results[-1].at - 0.5]
        assert late and all(r.answer is not None for r in late)  # everything answered again


PINNED = """
environment = "production"
[auth]
methods = ["certificate"]
[auth.certificate]
thumbprints = [{pins}]
"""


def test_pin_rollover_under_load_drops_nothing(tmp_path: Path) -> None:
    server_files = pki.write_files(tmp_path, "server", pki.server_cert())
    old = pki.leaf("CN=api.contoso", san=None, eku="both")
    new = pki.leaf("CN=api.contoso", san=None, eku="both")
    files = {
        "old": pki.write_files(tmp_path, "old", old),
        "new": pki.write_files(tmp_path, "new", new),
    }
    client_ca, config = tmp_path / "client-ca.pem", tmp_path / "connector.toml"
    pki.write_pem(client_ca, old.cert)
    config.write_text(PINNED.format(pins=f'"{old.sha256}"'))
    env = {
        "CONNECTOR_TLS_CERT": str(server_files.cert),
        "CONNECTOR_TLS_KEY": str(server_files.key),
        "CONNECTOR_TLS_CLIENT_CA": str(client_ca),
        "CONNECTOR_TLS_CLIENT_CERT": "required",
    }
    ctx = {}
    for name, f in files.items():
        ctx[name] = ssl.create_default_context(cafile=str(server_files.cert))
        ctx[name].load_cert_chain(f.cert, f.key)
    kinds = {"signup": load.kind("signup", SUBMIT, {"email": "a@contoso.com"}, {}, CONTINUE)}

    def reload(pins: str, *cas: pki.Issued) -> None:
        pki.write_pem(client_ca, *(c.cert for c in cas))
        config.write_text(PINNED.format(pins=pins))
        before = set(workers(server))
        server.proc.send_signal(signal.SIGHUP)
        eventually(lambda: not before & set(workers(server)), "the reload")

    with gunicorn(
        "", env=env, scheme="https", ssl_context=ctx["old"], config_path=config
    ) as server:
        with load.running(server.url, kinds, threads=2, context=ctx["old"]) as on_old:
            time.sleep(0.5)
            reload(f'"{old.sha256}", "{new.sha1}"', old, new)  # 1. overlap: both
            with load.running(server.url, kinds, threads=2, context=ctx["new"]) as on_new:
                time.sleep(1.0)  # Entra switches to the newest certificate meanwhile
            # 2. the old one goes; only the new one is in use now
        with load.running(server.url, kinds, threads=2, context=ctx["new"]) as after:
            time.sleep(0.3)
            reload(f'"{new.sha1}"', new)
            time.sleep(0.5)
        refused, _ = load.one_request(server.url, kinds["signup"], context=ctx["old"])
    for label, report in (("old pin", on_old), ("both pins", on_new), ("new pin", after)):
        print(f"\npin rollover, {label}: {report.summary(kinds)}")
        assert report.results and not report.wrong(kinds) and not report.errors()
    assert refused is None or refused[0] == 403  # handshake refused, or the app's 403


PG_SCRIPT = ROOT / "scripts" / "postgres.sh"


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


class PrivatePostgres:
    """A PostgreSQL of this test's own (scripts/postgres.sh), stoppable and restartable."""

    def __init__(self, state: Path) -> None:
        self.env = {**os.environ, "CONNECTOR_PG_STATE": str(state)}
        self.url = self._script("start").strip()
        self.data = Path((state / "datadir").read_text().strip())
        self.port = urlsplit(self.url).port

    def _script(self, command: str) -> str:
        done = subprocess.run(
            ["bash", str(PG_SCRIPT), command], env=self.env, capture_output=True, text=True,
            check=True, timeout=120,
        )  # fmt: skip
        return done.stdout

    def _ctl(self, *args: str) -> None:
        bin_dir = _pg_bin()
        assert bin_dir is not None
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*owner, str(bin_dir / "pg_ctl"), "-D", str(self.data), *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories='{self.data.parent}'"
        )
        self._ctl(
            "-w", "-t", "30", "-l", str(self.data.parent / "server.log"), "-o", options, "start"
        )

    def remove(self) -> None:
        self._script("stop")


@pytest.mark.postgres
@pytest.mark.skipif(
    _pg_bin() is None, reason="PostgreSQL binaries not installed (.ci/run installs them)"
)
def test_store_down_mid_load_fails_closed_and_recovers_without_restart(tmp_path: Path) -> None:
    from tests.store_support import KEY, add_invite, make_store

    pg = PrivatePostgres(tmp_path / "pg")
    try:
        store = make_store(pg.url)
        store.migrate()
        _, code = add_invite(store, max_uses=1000)
        store.close()
        toml = BASIC_TOML + RULES + "[rules.invitations]\n[store]\nstatement_timeout_ms = 300\n"
        env = {"CONNECTOR_STORE_URL": pg.url, "CONNECTOR_INVITE_KEY": KEY}
        invited = {"email": "ada@contoso.com", "extension_InvitationCode": code}
        ks = {
            **mixed(),
            "valid": load.kind("valid", SUBMIT, {"email": "a@contoso.com"}, basic(), CONTINUE),
            "invited": load.kind("invited", SUBMIT, invited, basic(), CONTINUE, INVALID),
        }
        with gunicorn(toml, env=env, workers=2) as server:
            pids = workers(server)
            with load.running(server.url, ks, threads=4) as report:
                time.sleep(0.7)
                stopped_at = max(r.at for r in report.results)
                pg.stop()
                down_from = max(r.at for r in report.results)
                time.sleep(1.5)
                down_until = max(r.at for r in report.results)
                pg.start()
                eventually(
                    lambda: any(r.kind == "invited" and r.answer == CONTINUE and r.at > down_until
                                for r in list(report.results)),
                    "a redemption to succeed again", timeout=20,
                )  # fmt: skip
                time.sleep(0.5)
            assert workers(server) == pids and server.proc.poll() is None  # no restart
        print(f"\nPostgreSQL stopped mid-load for 1.5 s: {report.summary(ks)}")
        assert not report.wrong(ks) and not report.errors(), report.summary(ks)
        during = [
            r for r in report.results if r.kind == "invited" and down_from < r.at < down_until
        ]
        assert during and all(r.answer == INVALID for r in during)  # "try again", never Continue
        before = [r for r in report.results if r.kind == "invited" and r.at < stopped_at - 0.1]
        assert before and all(r.answer == CONTINUE for r in before)
        recovered = min(r.at for r in report.results if r.kind == "invited" and r.at > down_until
                        and r.answer == CONTINUE)  # fmt: skip
        print(f"recovered {recovered - down_until:.2f} s after PostgreSQL was started again")
    finally:
        pg.remove()
