"""Certificate tooling (`python -m app certs ...`) and the X.509 helpers the service shares."""

from __future__ import annotations
