"""Benchmark plumbing: start gunicorn, drive it with wrk, read CPU from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_tool(name: str, package: str | None = None) -> str:
    """The path of a command, installing its Debian package first if it is missing."""
    found = shutil.which(name)
    if found:
        return found
    package = package or name
    print(f"{name} not found: installing Debian's {package} (apt-get install) ...", flush=True)
    for update in (False, True):
        if update:
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], check=False, capture_output=True
        )
        if shutil.which(name):
            break
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} is required for the benchmark (Debian package {package})")
    return found


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str

    def pids(self) -> list[int]:
        """The master and its workers."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.proc.pid, *kids]

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid().values())

    def cpu_by_pid(self) -> dict[int, float]:
        """CPU seconds (user + system) of the master and of each worker."""
        out = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
        return out


@contextmanager
def gunicorn(
    target: str,
    env: dict[str, str],
    workers: int = 2,
    args: tuple[str, ...] = (),
    log_path: Path | None = None,
    ready_path: str = "/healthz",
) -> Iterator[Server]:
    """`gunicorn -c gunicorn.conf.py TARGET ARGS` on a free loopback port, ready when it answers.

    Output goes to `log_path` (kept, e.g. to read the decision log) or to a temporary file.
    """
    port = free_port()
    full = {
        **os.environ,
        **env,
        "CONNECTOR_WORKERS": str(workers),
        "CONNECTOR_BIND": f"127.0.0.1:{port}",
    }
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(
            log_path.open("w+b") if log_path is not None else tempfile.TemporaryFile()  # noqa: SIM115
        )
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", target, *args],
            cwd=ROOT,
            env=full,
            stdout=log,
            stderr=log,
        )
        server = Server(proc, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        try:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{target} exited:\n{log.read().decode()[-2000:]}")
                try:
                    urllib.request.urlopen(server.url + ready_path, timeout=1).close()
                    break
                except urllib.error.HTTPError as exc:
                    if exc.code == 404:
                        break  # the reference apps have no /healthz: a 404 means it is up
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            while len(server.pids()) < workers + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            yield server
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non2xx: int
    cpu_us_per_request: float
    # The busiest worker's share of the workers' CPU: 1/workers when balanced, 1.0 when one
    # worker served everything (gthread's uneven accept, docs/operations.md).
    busiest_share: float = 1.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    server: Server, path: str, lua: Path, seconds: int, connections: int, threads: int = 1
) -> LoadResult:
    before = server.cpu_by_pid()
    out = subprocess.run(
        [
            need_tool("wrk"),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(lua),
            server.url + path,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    after = server.cpu_by_pid()
    cpu = sum(after.values()) - sum(before.values())
    master = server.proc.pid
    worker_cpu = [t - before.get(pid, 0.0) for pid, t in after.items() if pid != master]
    share = max(worker_cpu) / sum(worker_cpu) if worker_cpu and sum(worker_cpu) > 0 else 1.0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in err.groups()) if err else 0
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadResult(
        total,
        rps,
        p50,
        p99,
        errors,
        int(non.group(1)) if non else 0,
        cpu / max(total, 1) * 1e6,
        share,
    )


def lua_post(body: str, headers: dict[str, str], path: Path) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    for k, v in {"Content-Type": "application/json", **headers}.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def median(values: list[float]) -> float:
    return statistics.median(values)
