"""The API Management policy bundle: settings from `[apim]`, identities, rendering, command line."""

from __future__ import annotations
