"""Invitation codes: generation, input normalisation and keyed hashing.

A code is 28 characters of Crockford's base32 (140 bits from `secrets`), shown in groups
of four. Crockford's alphabet has no I, L, O or U, and on input i/l read as 1 and o as 0,
so a code read aloud or retyped still matches. Only the HMAC-SHA256 of the normalised
code is ever stored; the key comes from the environment variable the configuration names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app.rules.domains import email_domain

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 28  # 28 * 5 = 140 bits: at least 128 bits whatever the grouping
GROUP = 4
# Anything longer cannot be a code, even with generous separators: reject before any work.
MAX_INPUT = 64
_SEPARATORS = str.maketrans("", "", " -_.\t")
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VALID = frozenset(ALPHABET)


def generate() -> str:
    """A new code in display form, e.g. `7KQ2-M9XD-...` (7 groups of 4)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(text: str) -> str | None:
    """The canonical code for user input, or None when it cannot be a code."""
    if len(text) > MAX_INPUT or not text.isascii():
        return None
    code = text.upper().translate(_SEPARATORS).translate(_LOOKALIKES)
    if len(code) != LENGTH or not _VALID.issuperset(code):
        return None
    return code


def _mac(key: str, purpose: bytes, value: str) -> str:
    # The purpose prefix keeps code hashes and redeemer hashes from ever colliding.
    return hmac.new(key.encode(), purpose + value.encode(), hashlib.sha256).hexdigest()


def code_hash(key: str, code: str) -> str:
    """The stored form of a normalised code."""
    return _mac(key, b"invite-code:v1:", code)


def normalise_email(email: str) -> str:
    """Lower-case local part, normalised (IDN: punycode) domain; RequestError if no domain."""
    local = email.strip().rpartition("@")[0]
    return f"{local.lower()}@{email_domain(email.strip())}"


def redeemer_hash(key: str, identity: str) -> str:
    """Who redeemed, stored keyed-hashed: enough to recognise a retry, nothing to read."""
    return _mac(key, b"invite-redeemer:v1:", identity)
