"""Invitation codes: enough entropy, forgiving input, keyed hashes only."""

from __future__ import annotations

import math
import re

import pytest

from app.errors import RequestError
from app.invites import codes

KEY = "k" * 32


def test_generated_codes_carry_at_least_128_bits_in_groups_of_four() -> None:
    made = {codes.generate() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}", code), code
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) >= 128


def test_input_is_normalised_before_hashing() -> None:
    code = codes.generate()
    canonical = code.replace("-", "")
    variants = [code, code.lower(), " " + code.replace("-", " ") + "\t", canonical]
    assert {codes.normalise(v) for v in variants} == {canonical}
    # Crockford: o reads as 0, i and l as 1.
    assert codes.normalise("O" * 27 + "i") == "0" * 27 + "1"
    assert codes.normalise("l" * 28) == "1" * 28


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("A" * 10_000, "too long"),
        ("ÄBCDEFGHJKMNPQRSTVWXYZ012345", "not ASCII"),
        ("\u017f" * 28, "not ASCII, although it upper-cases to S"),
        ("' OR '1'='1' --", "SQL"),
        ("ABCDEFGHJKMNPQRSTVWXYZ01234U", "U is not in the alphabet"),
        ("ABCDEFGHJKMNPQRSTVWXYZ0123", "too short"),
        ("ABCDEFGHJKMNPQRSTVWXYZ0123456", "too long by one"),
        ("ABCD/EFGH/JKMN/PQRS/TVWX/YZ01/2345", "unknown separator"),
    ],
)
def test_what_cannot_be_a_code(text: str, why: str) -> None:
    assert codes.normalise(text) is None, why


def test_hashes_are_keyed_and_separate_codes_from_redeemers() -> None:
    code = codes.normalise(codes.generate()) or ""
    digest = codes.code_hash(KEY, code)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and code.lower() not in digest
    assert digest == codes.code_hash(KEY, code)
    assert digest != codes.code_hash("j" * 32, code)
    assert codes.redeemer_hash(KEY, code) != digest


@pytest.mark.parametrize(
    ("email", "normalised"),
    [
        ("Ada@Contoso.COM", "ada@contoso.com"),
        (" ada@contoso.com. ", "ada@contoso.com"),
        ("ada@Bücher.example", "ada@xn--bcher-kva.example"),
    ],
)
def test_emails_are_normalised(email: str, normalised: str) -> None:
    assert codes.normalise_email(email) == normalised


def test_an_address_without_a_domain_is_refused() -> None:
    with pytest.raises(RequestError, match="no domain"):
        codes.normalise_email("ada")
