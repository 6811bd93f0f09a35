"""Issue 7 figures: invitation redemptions per second and latency, SQLite and PostgreSQL.

Two measurements per store, each with 32 concurrent sign-ups, every one redeeming its own
single-use code (so every answer is a real redemption: a write):
  http   through the real gunicorn (gunicorn.conf.py with its default 2 workers x 4 threads;
         --workers 4 oversubscribes the 2 cores next to wrk and the PostgreSQL server),
         driven by wrk on loopback; a Continue is a 200, anything else counts as an error;
  store  the store layer alone: 4 processes x 8 threads calling Store.redeem.
PostgreSQL runs when CONNECTOR_BENCH_POSTGRES_URL / CONNECTOR_TEST_POSTGRES_URL is set or
scripts/postgres.sh can start a server (then stopped again). Bounded: about a minute.
Usage: python bench/store.py [--seconds 10] [--connections 32] [--workers 2] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config.model import StoreConfig
from app.invites import codes
from app.store import open_store
from app.store.model import Claimant, NewInvite
from bench.common import ROOT, gunicorn, wrk

KEY = "bench-invitation-hash-key-0123456789abcdef"
PASSWORD = "bench-password-0123456789"
PATH = "/api/connector/post-attribute-collection"
CONFIG = """environment = "production"
[auth]
methods = ["basic"]
[[auth.basic.credentials]]
username = "entra"
password_env = "BENCH_BASIC_PASSWORD"
[rules.invitations]
required = true
"""
LUA = """
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic %(auth)s"
request = function()
  i = i + 1
  local body = '{"email":"user' .. i .. '@contoso.com","ui_locales":"en-US",' ..
    '"extension_InvitationCode":"' .. codes[((i - 1) %% #codes) + 1] .. '"}'
  return wrk.format(nil, nil, nil, body)
end
"""


def make_codes(url: str, count: int) -> list[str]:
    store = open_store(StoreConfig(url=url))
    store.migrate()
    now = datetime.now(UTC)
    made, invites = [], []
    for _ in range(count):
        code = codes.generate()
        made.append(code)
        digest = codes.code_hash(KEY, codes.normalise(code) or "")
        invites.append(NewInvite(secrets.token_hex(8), digest, now, None, 1))
    store.create_invites(invites)
    store.close()
    return made


def http_run(
    url: str, seconds: int, connections: int, workers: int, tmp: Path, rule: bool = True
) -> str:
    """wrk against gunicorn; rule=False is the baseline: same requests, no invitation rule."""
    made = make_codes(url, 60_000)
    (tmp / "codes.txt").write_text("\n".join(made) + "\n")
    config = CONFIG if rule else CONFIG.split("[rules.invitations]", maxsplit=1)[0]
    (tmp / "connector.toml").write_text(config)
    auth = base64.b64encode(f"entra:{PASSWORD}".encode()).decode()
    lua = tmp / "redeem.lua"
    lua.write_text(LUA % {"codes": tmp / "codes.txt", "auth": auth})
    env = {
        "CONNECTOR_CONFIG": str(tmp / "connector.toml"),
        "CONNECTOR_STORE_URL": url,
        "CONNECTOR_INVITE_KEY": KEY,
        "BENCH_BASIC_PASSWORD": PASSWORD,
        "CONNECTOR_ACCESS_LOG": "",
        "CONNECTOR_LOG_LEVEL": "warning",
    }
    log = tmp / f"server-{secrets.token_hex(4)}.log"
    with gunicorn("wsgi:app", env, workers, log_path=log, ready_path="/readyz") as server:
        wrk(server, PATH, lua, 2, connections)  # warm-up: connections, caches, the pool
        offset = log.stat().st_size
        r = wrk(server, PATH, lua, seconds, connections)
    in_app = app_latencies(log, offset)
    ok = r.requests - r.non2xx - r.errors
    what = "redemptions/s" if rule else "answers/s    "
    return (
        f"http   {ok / seconds:8.0f} {what}  p50 {r.p50_ms:6.2f} ms  "
        f"p99 {r.p99_ms:6.2f} ms  errors {r.non2xx + r.errors}  "
        f"in-app p50 {in_app[0]:5.2f} ms p99 {in_app[1]:6.2f} ms  "
        f"cpu {r.cpu_us_per_request:.0f} us/request"
    )


def app_latencies(log: Path, offset: int) -> tuple[float, float]:
    """p50/p99 of the decision log's latency_ms: the service's own time, without queueing."""
    with log.open("rb") as f:
        f.seek(offset)
        values = sorted(
            float(json.loads(line)["latency_ms"]) for line in f if b'"event":"decision"' in line
        )
    if not values:
        return (float("nan"), float("nan"))
    return statistics.median(values), values[int(len(values) * 0.99)]


def _store_worker(url: str, mine: list[str], threads: int, seconds: float, out: object) -> None:
    try:
        _store_work(url, mine, threads, seconds, out)
    except BaseException as exc:
        out.put(([], 0, f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]
        raise


def _store_work(url: str, mine: list[str], threads: int, seconds: float, out: object) -> None:
    import threading

    store = open_store(StoreConfig(url=url, pool_size=threads))
    store.migrate()  # connects (and waits for the pool) before the clock starts
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(slice_: list[str]) -> None:
        local, bad = [], 0
        for n, code in enumerate(slice_):
            if time.monotonic() > stop:
                break
            who = Claimant(f"r{os.getpid()}-{n}-{code}", None, None)
            t0 = time.perf_counter()
            try:
                ok = store.redeem(
                    codes.code_hash(KEY, code.replace("-", "")), who, datetime.now(UTC)
                ).outcome.ok
            except Exception:
                ok = False
            local.append(time.perf_counter() - t0)
            bad += not ok
        with lock:
            latencies.extend(local)
            failures[0] += bad

    parts = [mine[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=loop, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    store.close()
    out.put((latencies, failures[0], None))  # type: ignore[attr-defined]


def store_run(url: str, seconds: int, processes: int = 4, threads: int = 8) -> str:
    made = make_codes(url, 60_000)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_store_worker, args=(url, made[i::processes], threads, seconds, queue))
        for i in range(processes)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=seconds + 120) for _ in procs]
    except Exception as exc:  # a worker died without reporting: say so, do not hang
        codes_ = [p.exitcode for p in procs]
        raise RuntimeError(f"store workers did not report (exit codes {codes_})") from exc
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    problems = [why for _, _, why in results if why]
    if problems:
        raise RuntimeError(f"store worker failed: {problems[0]}")
    lat = sorted(x for r, _, _ in results for x in r)
    failed = sum(f for _, f, _ in results)
    p99 = lat[int(len(lat) * 0.99)] * 1000
    return (
        f"store  {(len(lat) - failed) / elapsed:8.0f} redemptions/s  "
        f"p50 {statistics.median(lat) * 1000:6.2f} ms  p99 {p99:6.2f} ms  errors {failed}  "
        f"({processes} processes x {threads} threads)"
    )


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A throwaway schema on the configured or a freshly started PostgreSQL (None if neither)."""
    base = os.environ.get("CONNECTOR_BENCH_POSTGRES_URL") or os.environ.get(
        "CONNECTOR_TEST_POSTGRES_URL"
    )
    started = False
    if not base:
        script = ROOT / "scripts" / "postgres.sh"
        run = subprocess.run([str(script), "start"], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            print(f"postgresql: skipped (scripts/postgres.sh: {run.stderr.strip()[-200:]})")
            yield None
            return
        base, started = run.stdout.strip().splitlines()[-1], True
    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
        if started:
            subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs; {args.connections} concurrent sign-ups, one single-use code "
        f"each; gunicorn {args.workers} workers x 4 threads; {args.seconds} s per run"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        url = f"sqlite:///{tmpdir / 'baseline'}.db"
        base = http_run(url, args.seconds, args.connections, args.workers, tmpdir, rule=False)
        print(f"no rule     {base}  <- baseline: same requests, no store", flush=True)
        for name in ("sqlite-http", "sqlite-store"):
            url = f"sqlite:///{tmpdir / name}.db"
            line = (
                http_run(url, args.seconds, args.connections, args.workers, tmpdir)
                if name.endswith("http")
                else store_run(url, min(args.seconds, 5))
            )
            print(f"sqlite      {line}", flush=True)
        if args.sqlite_only:
            return
        with postgres_schema() as url:
            if url is not None:
                line = http_run(url, args.seconds, args.connections, args.workers, tmpdir)
                print(f"postgresql  {line}", flush=True)
                print(f"postgresql  {store_run(url, min(args.seconds, 5))}", flush=True)


if __name__ == "__main__":
    main()
