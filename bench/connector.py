"""Issue 2 figures: connector vs minimal Flask vs bare WSGI, side by side in one run.

Also: the million-domain deny list (load time, resident memory per worker, cost of one
evaluation) and the cost of slow password hashes (verified once per worker per credential).
Usage: python bench/connector.py [--seconds 6] [--rounds 5] [--connections 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import json
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LoadResult, Server, gunicorn, lua_post, median, wrk

PASSWORD = "bench-password-0123456789"
PATH = "/api/connector/post-attribute-collection"
BODY = json.dumps(
    {
        "email": "ada.lovelace@contoso.com",
        "ui_locales": "en-US",
        "displayName": "Ada",
        "givenName": "Ada",
        "surname": "Lovelace",
        "postalCode": "75001",
        "city": "Paris",
        "extension_Role": "teacher",
        "identities": [
            {"signInType": "federated", "issuer": "google.com", "issuerAssignedId": "1234567890"}
        ],
    }
)


def config_text(deny_file: Path | None, hashed: str | None = None) -> str:
    cred = f'password_hash = "{hashed}"' if hashed else 'password_env = "BENCH_PASSWORD"'
    files = f'deny_files = ["{deny_file}"]' if deny_file else ""
    return f"""
environment = "production"
[auth]
methods = ["basic"]
[[auth.basic.credentials]]
username = "entra"
{cred}
[rules.email_domains]
deny = ["mailinator.com", "guerrillamail.com"]
{files}
[[rules.attributes]]
name = "postalCode"
required = true
pattern = "^[0-9]{{5}}$"
[[rules.attributes]]
name = "city"
max_length = 80
[[rules.attributes]]
name = "Role"
allowed = ["student", "teacher"]
[[rules.claims]]
name = "Tier"
value = "standard"
"""


def write_million(path: Path) -> None:
    with path.open("w") as f:
        for i in range(1_000_000):
            f.write(f"disposable-{i:07d}.example\n")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fmt(r: LoadResult, workers: int = 2) -> str:
    mark = "*" if workers > 1 and r.busiest_share > BALANCED_SHARE else " "
    return (
        f"{r.rps:9.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  "
        f"cpu {r.cpu_us_per_request:6.0f} us/req  busiest worker {r.busiest_share:4.0%}{mark} "
        f"non-2xx {r.non2xx}  errors {r.errors}"
    )


# gthread's uneven accept (docs/operations.md): now and then one worker accepts most or all
# of wrk's connections, and that run measures one saturated worker, not the server (CPU per
# request rises by up to 2x). Such a run is repeated (bounded), and ratios are taken only
# between runs that both spread the work evenly (at most 55:45 between the two workers).
BALANCED_SHARE = 0.55
ATTEMPTS = 6


def balanced_wrk(server: Server, lua: Path, args: argparse.Namespace) -> tuple[LoadResult, int]:
    """A run in which every worker served, and how many attempts it took."""
    attempts = 0
    while True:
        attempts += 1
        r = wrk(server, PATH, lua, args.seconds, args.connections)
        if args.workers == 1 or r.busiest_share <= BALANCED_SHARE or attempts == ATTEMPTS:
            return r, attempts


def domain_figures(deny_file: Path) -> dict[str, float]:
    from app.config.model import Config
    from app.contract.model import SignupRequest, Step
    from app.rules import builtin
    from app.rules.domains import DomainSet

    loads = []
    for _ in range(3):
        gc.collect()
        t = time.perf_counter()
        s = DomainSet.build([], [deny_file])
        loads.append(time.perf_counter() - t)
    import tomllib

    from app.config import parse_config

    cfg: Config = parse_config(
        tomllib.loads(config_text(deny_file)), "bench", {"BENCH_PASSWORD": PASSWORD}
    )
    req = SignupRequest(
        step=Step.POST_ATTRIBUTE_COLLECTION,
        email="a@mail.eu.contoso.com",
        email_domain="mail.eu.contoso.com",
    )
    n = 200_000
    per_eval = (
        min(timeit.repeat(lambda: builtin.check_email_domain(req, cfg), number=n, repeat=3)) / n
    )
    hit = SignupRequest(
        step=Step.POST_ATTRIBUTE_COLLECTION,
        email="a@x.disposable-0999999.example",
        email_domain="x.disposable-0999999.example",
    )
    assert builtin.check_email_domain(hit, cfg) is not None
    return {"entries": len(s), "load_s": median(loads), "eval_us": per_eval * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn workers per server (unbalanced runs are repeated)",
    )
    args = ap.parse_args()

    from app.auth.passwords import hash_password

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deny = tmpdir / "deny.txt"
        write_million(deny)
        cfg_full = tmpdir / "full.toml"
        cfg_full.write_text(config_text(deny))
        cfg_small = tmpdir / "small.toml"
        cfg_small.write_text(config_text(None))
        cfg_hash = tmpdir / "hash.toml"
        cfg_hash.write_text(config_text(None, hash_password(PASSWORD)))
        auth = "Basic " + base64.b64encode(f"entra:{PASSWORD}".encode()).decode()
        lua = lua_post(BODY, {"Authorization": auth}, tmpdir / "post.lua")
        env = {
            "BENCH_PASSWORD": PASSWORD,
            "CONNECTOR_CONFIG": str(cfg_full),
            "CONNECTOR_ACCESS_LOG": "-",
            "CONNECTOR_STORE_URL": f"sqlite:///{tmpdir / 'bench.db'}",
        }
        targets = {
            "connector": "wsgi:app",
            "minimal-flask": "bench.bench_apps:minimal_flask",
            "bare-wsgi": "bench.bench_apps:bare_wsgi",
        }
        print(
            "== connector vs minimal Flask vs bare WSGI: gunicorn.conf.py (guarded gthread), "
            f"{args.workers} worker(s) x 4 "
            f"threads, access log on, wrk -c{args.connections} {args.seconds}s x "
            f"{args.rounds} rounds (alternating, servers running side by side)",
            flush=True,
        )
        results: dict[str, list[LoadResult]] = {k: [] for k in targets}
        retried = unbalanced = 0
        with contextlib.ExitStack() as stack:
            servers = {
                n: stack.enter_context(gunicorn(t, env, workers=args.workers))
                for n, t in targets.items()
            }
            for server in servers.values():
                wrk(server, PATH, lua, 2, args.connections)  # warm-up
            for rnd in range(args.rounds):
                for name, server in servers.items():
                    r, attempts = balanced_wrk(server, lua, args)
                    retried += attempts - 1
                    unbalanced += r.busiest_share > BALANCED_SHARE and args.workers > 1
                    results[name].append(r)
                    print(f"  round {rnd + 1} {name:14s} {fmt(r, args.workers)}", flush=True)
        med = {
            k: {
                f: median([getattr(r, f) for r in v])
                for f in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")
            }
            for k, v in results.items()
        }
        print("medians:")
        for name, m in med.items():
            print(
                f"  {name:14s} {m['rps']:9.0f} req/s  p50 {m['p50_ms']:6.2f} ms  "
                f"p99 {m['p99_ms']:6.2f} ms  cpu {m['cpu_us_per_request']:6.0f} us/req"
            )
        print(
            f"runs repeated because one worker had taken every connection: {retried}; "
            f"still unbalanced after {ATTEMPTS} attempts (marked *, left out of the ratios): "
            f"{unbalanced}"
        )

        # This VM shares its host: throughput swings between rounds. Ratios are taken
        # within each round (the servers ran back to back), then the median of those.
        def ratios(a: str, b: str) -> tuple[float, float, float, float]:
            pairs = [
                (x, y)
                for x, y in zip(results[a], results[b], strict=True)
                if args.workers == 1 or max(x.busiest_share, y.busiest_share) <= BALANCED_SHARE
            ]
            if not pairs:
                return float("nan"), float("nan"), float("nan"), float("nan")
            rps = [x.rps / y.rps for x, y in pairs]
            cpu = [y.cpu_us_per_request / x.cpu_us_per_request for x, y in pairs]
            return median(rps), median(cpu), min(cpu), max(cpu)

        for a, b, note in (
            ("connector", "minimal-flask", "target >= 0.85"),
            ("connector", "bare-wsgi", ""),
            ("minimal-flask", "bare-wsgi", "REFERENCE: 0.55-0.72"),
        ):
            rps, cpu, low, high = ratios(a, b)
            extra = f" ({note})" if note else ""
            print(
                f"ratio {a}/{b}: throughput {rps:.2f}, server CPU per request {cpu:.2f} "
                f"(rounds {low:.2f}-{high:.2f}){extra}"
            )
        print(
            f"connector p99 at {args.connections} connections "
            f"{med['connector']['p99_ms']:.2f} ms (target < 30 ms)"
        )
        bad = sum(r.non2xx + r.errors for v in results.values() for r in v)
        print(f"unexpected statuses or socket errors across all runs: {bad}")

        print("== slow password hash (scrypt) as the basic credential", flush=True)
        hashed_env = {**env, "CONNECTOR_CONFIG": str(cfg_hash)}
        with gunicorn("wsgi:app", hashed_env, workers=args.workers) as server:
            wrk(server, PATH, lua, 2, args.connections)
            r, _ = balanced_wrk(server, lua, args)
        print(f"  hashed credential {fmt(r, args.workers)}")
        print(
            f"  ratio hashed/plain-env credential {r.rps / med['connector']['rps']:.2f} "
            "(near 1: the hash is verified once per worker, then cached)"
        )

        print("== 1,000,000-domain deny list", flush=True)
        figs = domain_figures(deny)
        print(
            f"  entries {figs['entries']:.0f}  load {figs['load_s']:.3f} s (target < 1 s)  "
            f"one evaluation {figs['eval_us']:.2f} us (target < 5 us)"
        )
        worker_rss = {}
        for label, cfg in (("without list", cfg_small), ("with list", cfg_full)):
            with gunicorn("wsgi:app", {**env, "CONNECTOR_CONFIG": str(cfg)}) as server:
                wrk(server, PATH, lua, 2, 8)
                pids = server.pids()[1:]
                worker_rss[label] = sum(rss_kb(p) for p in pids) / len(pids) / 1024
            print(f"  worker RSS {label}: {worker_rss[label]:.1f} MB")
        print(
            f"  resident memory added per worker: "
            f"{worker_rss['with list'] - worker_rss['without list']:.1f} MB (target < 40 MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
