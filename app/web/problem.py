"""Small RFC 9457 problem bodies for answers outside the Entra contract (401, 403, 404...)."""

from __future__ import annotations

import json

from flask import Response

_TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(status: int, headers: dict[str, str] | None = None) -> Response:
    """Deliberately says nothing of why: the reason goes to the log, not to the caller."""
    body = json.dumps(
        {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status}
    )
    return Response(body, status=status, mimetype="application/problem+json", headers=headers)
