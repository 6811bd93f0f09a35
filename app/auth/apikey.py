"""API key in the `code` query parameter or `x-api-key` header (development, or combined)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from app.auth.principal import Environ, Principal
from app.config.model import ApiKeyConfig
from app.errors import AuthenticationError


class ApiKeyAuth:
    name = "api_key"

    def __init__(self, config: ApiKeyConfig) -> None:
        self._digests = tuple(hashlib.sha256(k.reveal().encode()).digest() for k in config.keys)

    def authenticate(self, environ: Environ) -> Principal | None:
        presented = environ.get("HTTP_X_API_KEY")
        if presented is None:
            query = environ.get("QUERY_STRING", "")
            if "code=" in query:
                values = parse_qs(query, max_num_fields=20).get("code")
                presented = values[0] if values else None
        if presented is None:
            return None
        digest = hashlib.sha256(str(presented).encode("utf-8", "surrogateescape")).digest()
        ok = False
        for i, expected in enumerate(self._digests):
            if hmac.compare_digest(digest, expected):
                ok = True
                index = i
        if not ok:
            raise AuthenticationError("API key does not match any configured one")
        return Principal("api_key", f"key#{index + 1}")
