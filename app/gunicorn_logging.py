"""gunicorn logger whose access log is one JSON object per line."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger


class JsonLogger(Logger):  # type: ignore[misc]
    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "event": "access",
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            # Path only: a query string may carry an API key (`code=`).
            "path": environ.get("PATH_INFO"),
            "status": resp.status_code if hasattr(resp, "status_code") else resp.status,
            "bytes": getattr(resp, "sent", None),
            "ms": round(request_time.total_seconds() * 1000, 3),
            "correlation_id": next(
                (v for k, v in resp.headers if k.lower() == "x-correlation-id"), None
            ),
        }
        try:
            self.access_log.info(json.dumps(entry, separators=(",", ":")))
        except Exception:
            self.exception("access log failed")
