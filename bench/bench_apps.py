"""Reference apps for the side-by-side benchmark: a minimal Flask endpoint and bare WSGI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request

minimal_flask = Flask(__name__)
_CONTINUE = json.dumps({"version": "1.0.0", "action": "Continue"}).encode()


@minimal_flask.post("/api/connector/post-attribute-collection")
def minimal() -> Response:
    request.get_json()  # parse the body, as the connector must
    return Response(_CONTINUE, mimetype="application/json")


def bare_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    json.loads(environ["wsgi.input"].read(length) or b"{}")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_CONTINUE)))]
    )
    return [_CONTINUE]
