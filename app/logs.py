"""Structured JSON logging: one line per event, nothing secret, no full email address."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from json.encoder import encode_basestring_ascii as _esc
from typing import Any

LOGGER_NAME = "connector"
log = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # Type and message only: a traceback's locals could carry request data.
            exc = record.exc_info[1]
            entry["error"] = f"{record.exc_info[0].__name__}: {str(exc)[:300]}"
            entry["where"] = _where(record.exc_info[2])
        return _ENCODER.encode(entry)


def _where(tb: Any) -> str:
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    code = last.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{last.tb_lineno}:{code.co_name}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (test capture, gunicorn's redirection)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(level: str = "INFO") -> None:
    """Idempotent: one JSON handler on the project logger, writing to stderr."""
    if any(getattr(h, "_connector", False) for h in log.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler._connector = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def event(level: int, name: str, /, **fields: Any) -> None:
    if log.isEnabledFor(level):
        log.log(level, name, extra={"fields": fields})


_write_lock = threading.Lock()
# Built once: json.dumps with keyword arguments builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
_stamp: tuple[int, str] = (0, "")


def _timestamp() -> str:
    global _stamp  # noqa: PLW0603 - a one-entry cache of the formatted second
    now = time.time()
    second = int(now)
    if _stamp[0] != second:
        _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_stamp[1]}.{int((now - second) * 1000):03d}Z"


def decision(
    head: tuple[str, str, str, str, str, int, str, str, float], extra: dict[str, Any] | None = None
) -> None:
    """The per-request decision line, written directly: the hot path skips logging's machinery.

    ``head`` is (correlation id, contract, step, action, rule, status, auth method, auth
    subject, latency ms). The line has the same JSON shape as every other line, preformatted
    because it is written once per request; every string is escaped, so the line is ASCII.
    One write(2) per line (see ``_emit``), so lines from gthread workers' threads never
    interleave.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    cid, contract, step, action, rule, status, method, subject, latency = head
    key = (contract, step, action, rule, status, method, subject)
    middle = _middles.get(key)
    if middle is None:
        middle = (
            f'"contract":{_esc(contract)},"step":{_esc(step)},"action":{_esc(action)},'
            f'"rule":{_esc(rule)},"status":{int(status)},'
            f'"auth_method":{_esc(method)},"auth_subject":{_esc(subject)}'
        )
        if len(_middles) >= _MIDDLES_LIMIT:
            _middles.clear()
        _middles[key] = middle
    line = (
        f'{{"ts":"{_timestamp()}","level":"info","event":"decision",'
        f'"correlation_id":{_esc(cid)},{middle},"latency_ms":{float(latency):.3f}'
    )
    if extra:
        for k, v in extra.items():
            line += f",{_esc(k)}:{_value(v)}"
    _emit(line + "}\n")


# A write(2) of at most PIPE_BUF bytes to a pipe is atomic, and Linux serialises writes to
# one open regular file: a line that fits needs no lock. Holding a lock across the system
# call made every other thread that logs wait for it, and the text layer's own buffering
# and flushing cost as much again; both showed up in the server CPU per request. Writing
# past sys.stderr's buffer is safe because everything else writes whole lines to it and
# flushes them at once (logging's handler flushes every record).
_ATOMIC = 4096
_stderr_fd: tuple[object, int] = (None, -1)


def _emit(line: str) -> None:
    global _stderr_fd  # noqa: PLW0603 - a one-entry cache of sys.stderr's descriptor
    stream = sys.stderr
    known, fd = _stderr_fd
    if known is not stream:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # captured or replaced in-memory
            fd = -1
        _stderr_fd = (stream, fd)
    data = line.encode("utf-8", "backslashreplace")
    if fd >= 0 and len(data) <= _ATOMIC:
        try:
            while data:
                data = data[os.write(fd, data) :]
            return
        except OSError:
            pass  # e.g. a non-blocking pipe that is full: the text layer retries below
    try:
        with _write_lock:
            stream.write(data.decode("utf-8", "backslashreplace"))
            stream.flush()
    except (OSError, ValueError):
        pass  # a broken log stream must not change the answer the caller gets


# The escaped middle of the line repeats: a few contracts, steps, actions, rules and callers.
_middles: dict[tuple[str, str, str, str, int, str, str], str] = {}
_MIDDLES_LIMIT = 4096


def _value(value: Any) -> str:
    """One JSON value; strings and ints directly (an encoder call costs more than the line)."""
    kind = type(value)
    if kind is str:
        return _esc(value)
    if kind is int:
        return str(value)
    encoded: str = _ENCODER.encode(value)
    return encoded


def mask_email(email: str | None) -> str | None:
    """`j***@contoso.com`: enough to correlate a support ticket, not enough to identify."""
    if not email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"
