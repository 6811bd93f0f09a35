"""The queue SQLite writers wait in: threads on a lock, processes on an flock, finely polled.

SQLite's own busy handler sleeps 1, 2, 5, 10, 15, ... up to 100 ms between attempts at
its write lock; with several gunicorn workers writing, a loser could sleep through many
winners, and that schedule, not the sub-millisecond work, set the tail latency. Threads of
one process queue first-come first-served (handed the turn directly: no polling, no
barging, so no thread starves); the one thread per process at the head polls an exclusive
flock on a side file every 0.1-1 ms. Every wait ends at the operation's deadline.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import StoreError


class FairLock:
    """A lock handed to its waiters in arrival order (threading.Lock lets a thread re-take
    it ahead of threads that have waited longer)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            me = threading.Lock()
            me.acquire()
            self._waiters.append(me)
        if me.acquire(timeout=max(timeout, 0.0)):
            return True  # handed over by release()
        with self._mutex:
            if me in self._waiters:
                self._waiters.remove(me)
                return False
        me.acquire()  # handed over just as the wait ended: it is ours after all
        return True

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held: now by the next in line
            else:
                self._held = False


class WriterQueue:
    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}-writer")
        # Per process: a forked child must not share its parent's lock or open file (an
        # flock belongs to the open file). dict.setdefault is atomic under the GIL.
        self._locks: dict[int, FairLock] = {}
        self._files: dict[int, int] = {}

    @contextmanager
    def turn(self, budget: float) -> Iterator[None]:
        """Hold the write turn, or raise StoreError once `budget` seconds have passed."""
        deadline = time.monotonic() + budget
        lock = self._locks.setdefault(os.getpid(), FairLock())
        if not lock.acquire(timeout=budget):
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
            lock.release()

    def _file(self) -> int:
        """This process's open lock file (the caller holds this process's lock)."""
        pid = os.getpid()
        fd = self._files.get(pid)
        if fd is None:
            fd = self._files[pid] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return fd

    def _busy(self, budget: float) -> StoreError:
        return StoreError(f"sqlite store {self.path}: busy (waited {budget * 1000:.0f} ms)")

    def close(self) -> None:
        fd = self._files.pop(os.getpid(), None)
        if fd is not None:
            os.close(fd)
