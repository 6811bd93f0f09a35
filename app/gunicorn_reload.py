"""Reload without downtime: workers boot from the master's last validated configuration.

gunicorn re-reads nothing of ours on SIGHUP: each new worker imports the app, which loads
CONNECTOR_CONFIG. A worker that fails to boot halts the master and the whole service
(REFERENCE §7), so a broken file must never reach a worker, not even one forked to replace
a crashed worker long after the operator saved the file.

Checklist:
 (1) the master reads the operator's file once and writes the bytes to a private snapshot
     (directory 0700, file 0600: it may name secret-bearing variables and key paths);
 (2) it validates that copy exactly as a worker will load it (same loader, same environment);
 (3) only a valid copy replaces the snapshot, atomically (rename), so a booting worker sees
     the old one or the new one, never half of either;
 (4) workers find the snapshot through CONNECTOR_CONFIG_SNAPSHOT; CONNECTOR_CONFIG keeps
     naming the operator's file, for messages and for `source` in logs;
 (5) a refused reload is logged with the loader's message and the last good snapshot stays;
 (6) the snapshot directory goes when the master exits (not when a forked worker does).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.config import config_path, load_config
from app.config.loader import SNAPSHOT_ENV


@dataclass(frozen=True)
class Snapshot:
    """A validated copy: where the workers read it, what it was copied from, its digest."""

    path: Path
    origin: Path
    sha256: str


class _State:
    directory: Path | None = None
    current: Snapshot | None = None


_state = _State()


def _directory() -> Path:
    if _state.directory is None:
        _state.directory = Path(tempfile.mkdtemp(prefix="connector-config-"))  # (1) 0700
        atexit.register(_remove, _state.directory, os.getpid())
    return _state.directory


def _remove(directory: Path, owner: int) -> None:
    if os.getpid() == owner:  # (6) workers inherit this handler through fork
        shutil.rmtree(directory, ignore_errors=True)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def take_snapshot() -> Snapshot:
    """Validate the operator's file and make it what workers load; ConfigError if invalid."""
    origin = config_path()
    try:
        raw = origin.read_bytes()  # (1) read once: the bytes validated are the bytes served
    except OSError:
        load_config(origin)  # raises the loader's ConfigError naming the file
        raise
    directory = _directory()
    candidate = directory / "candidate.toml"
    _write_private(candidate, raw)
    try:
        load_config(environ={**os.environ, SNAPSHOT_ENV: str(candidate)})  # (2)
    except BaseException:
        candidate.unlink(missing_ok=True)
        raise  # (5) the previous snapshot is untouched
    target = directory / "connector.toml"
    os.replace(candidate, target)  # (3)
    os.environ[SNAPSHOT_ENV] = str(target)  # (4) inherited by every worker forked from now
    _state.current = Snapshot(target, origin, hashlib.sha256(raw).hexdigest()[:16])
    return _state.current


def current() -> Snapshot | None:
    """The snapshot workers boot from, if one was taken."""
    return _state.current
