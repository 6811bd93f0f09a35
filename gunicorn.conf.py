"""gunicorn settings, from environment variables; command-line flags override them.

Serve with `gunicorn -c gunicorn.conf.py wsgi:app`. TLS is terminated here only when
CONNECTOR_TLS_CERT is set (SPEC §2); otherwise plain HTTP behind a TLS front end.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app.gunicorn_hooks import (
    on_reload,
    on_starting,
    ssl_context,
    tls_settings,
)

_env = os.environ.get

# App Service sets PORT and expects 0.0.0.0; locally default to loopback only.
bind = [_env("CONNECTOR_BIND") or (f"0.0.0.0:{_env('PORT')}" if _env("PORT") else "127.0.0.1:8000")]
# gthread with guards against idle and slow clients (app/gunicorn_worker.py, docs/operations.md)
worker_class = "app.gunicorn_worker.GuardedThreadWorker"
workers = int(_env("CONNECTOR_WORKERS") or _env("WEB_CONCURRENCY") or 2)
threads = int(_env("CONNECTOR_THREADS") or 4)
# Entra waits 2-20 s; a request running longer than this is stuck, not slow.
timeout = int(_env("CONNECTOR_WORKER_TIMEOUT") or 30)
graceful_timeout = int(_env("CONNECTOR_GRACEFUL_TIMEOUT") or 20)
keepalive = int(_env("CONNECTOR_KEEPALIVE") or 5)
max_requests = int(_env("CONNECTOR_MAX_REQUESTS") or 0)
max_requests_jitter = max_requests // 10
# Entra sends small requests: keep gunicorn's header limits tight.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
header_map = "drop"  # X_ARR_ClientCert must not masquerade as X-ARR-ClientCert

# gunicorn 27's runtime control socket is not needed here: no extra local attack surface.
control_socket_disable = _env("CONNECTOR_CONTROL_SOCKET", "") == ""
if not control_socket_disable:
    control_socket = _env("CONNECTOR_CONTROL_SOCKET")

logger_class = "app.gunicorn_logging.JsonLogger"
accesslog = _env("CONNECTOR_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = _env("CONNECTOR_LOG_LEVEL", "info")
# Never trust X-Forwarded-* for the peer address: certificate-header trust depends on it.
forwarded_allow_ips = _env("CONNECTOR_FORWARDED_ALLOW_IPS", "127.0.0.1")

globals().update(tls_settings(os.environ))

__all__ = ["on_reload", "on_starting", "ssl_context"]
