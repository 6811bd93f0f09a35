"""Instructions per request, counted by valgrind: the noise-free side of the connector bench.

Wall-clock figures on a shared VM move +-20% between runs; instruction counts do not. This
runs the connector (the bench's configuration: basic auth, a deny list, attribute and claim
rules) and the minimal Flask endpoint in-process on the same request, under cachegrind,
twice each (200 warm-up requests, then 200 + N), and prints the difference per request.
It leaves out what a server adds (gunicorn, sockets, the access log), so its ratio is lower
than bench/connector.py's.
Usage: python bench/instructions.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import need_tool

WARM_UP = 200


def child(kind: str, n: int) -> None:
    """Serve WARM_UP + n requests in-process (run under valgrind by main)."""
    from app import create_app
    from app.config import parse_config
    from bench.bench_apps import minimal_flask
    from bench.connector import BODY, PASSWORD, PATH, config_text

    if kind == "connector":
        cfg = parse_config(tomllib.loads(config_text(None)), "bench", {"BENCH_PASSWORD": PASSWORD})
        app = create_app(cfg)
    else:
        app = minimal_flask
    sys.stderr = open(os.devnull, "w", buffering=1)  # noqa: SIM115 - one decision line each
    body = BODY.encode()
    auth = "Basic " + base64.b64encode(f"entra:{PASSWORD}".encode()).decode()
    for _ in range(WARM_UP + n):
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PATH,
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": auth,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.errors": sys.stderr,
        }
        for _chunk in app(environ, _start_response):
            pass


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
) -> Callable[[bytes], object]:
    return len  # the write() callable; the apps here return their bodies instead


def instructions(valgrind: str, kind: str, n: int) -> int:
    out = subprocess.run(
        [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            kind,
            "--requests",
            str(n),
        ],
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    m = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if not m:
        sys.exit(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(m.group(1).replace(",", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--child", choices=("connector", "minimal"))
    args = ap.parse_args()
    if args.child:
        child(args.child, args.requests)
        return 0
    valgrind = need_tool("valgrind")
    print(f"== instructions per request, in-process, {args.requests} requests (cachegrind)")
    per = {}
    for kind in ("connector", "minimal"):
        base = instructions(valgrind, kind, 0)
        total = instructions(valgrind, kind, args.requests)
        per[kind] = (total - base) / args.requests
        print(f"  {kind:10s} {per[kind] / 1000:8.1f}K instructions per request", flush=True)
    own = per["connector"] - per["minimal"]
    print(
        f"  the connector's own work (auth, parsing, rules, decision line): {own / 1000:.1f}K, "
        f"{own / per['minimal']:.0%} on top of the minimal endpoint"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
