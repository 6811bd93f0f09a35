"""The queue SQLite writers wait in: threads on a lock, processes on an flock, finely polled.

SQLite's own busy handler sleeps 1, 2, 5, 10, 15, ... ms between attempts at its write
lock; with several gunicorn workers writing, a loser could sleep through many winners, and
that schedule, not the sub-millisecond work, set the tail latency. Threads of one process
wait on a lock (woken the moment it is free); one thread per process then polls an flock
on a side file every 0.1-1 ms, always within the operation's deadline.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import StoreError


class WriterQueue:
    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}-writer")
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self, budget: float) -> Iterator[None]:
        """Hold the write turn, or raise StoreError once `budget` seconds have passed."""
        deadline = time.monotonic() + budget
        if self._pid != os.getpid():  # forked: a fresh lock, and the file reopened below
            self._thread_lock = threading.Lock()
        if not self._thread_lock.acquire(timeout=budget):
            raise self._busy(budget)
        try:
            fd = self._file()
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise self._busy(budget) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int:
        # A forked child must not share its parent's open file description (and lock).
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def _busy(self, budget: float) -> StoreError:
        return StoreError(f"sqlite store {self.path}: busy (waited {budget * 1000:.0f} ms)")

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
