"""The SQLite writers' queue: exclusive across threads and processes, fair, bounded."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from app.errors import StoreError
from app.store.sqlite_writers import FairLock, WriterQueue


def test_fair_lock_hands_the_turn_over_in_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []

    def wait(i: int) -> None:
        assert lock.acquire(timeout=5)
        order.append(i)
        lock.release()

    threads = []
    for i in range(5):
        t = threading.Thread(target=wait, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.02)  # queue them one after another
    lock.release()
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def test_fair_lock_gives_up_at_the_deadline_and_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(timeout=1)
    started = time.monotonic()
    assert lock.acquire(timeout=0.05) is False
    assert 0.04 < time.monotonic() - started < 1
    lock.release()
    assert lock.acquire(timeout=0)  # free: the one that gave up is not still queued


def test_writer_queue_excludes_threads(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db")
    inside, most = [0], [0]

    def write() -> None:
        for _ in range(50):
            with queue.turn(5):
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


def _hold(queue: WriterQueue, ready: object, seconds: float) -> None:
    # The parent's queue object, inherited by fork: it must open its own lock file.
    with queue.turn(5):
        ready.set()  # type: ignore[attr-defined]
        time.sleep(seconds)


def test_writer_queue_excludes_processes_within_the_deadline(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db")
    with queue.turn(1):
        pass  # this process has its lock file open before forking, as a worker would
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    other = ctx.Process(target=_hold, args=(queue, ready, 0.5))
    other.start()
    assert ready.wait(5)
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"busy \(waited 100 ms\)"), queue.turn(0.1):
        pass
    assert time.monotonic() - started < 0.4
    other.join()
    with queue.turn(0.1):
        pass
