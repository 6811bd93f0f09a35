"""Properties of basic auth (RFC 7617): parse exactly, admit exactly the configured pairs.

An oracle decodes the header independently; `BasicAuth.authenticate` must admit a request
exactly when the decoded (user, password) pair is configured, and otherwise raise
AuthenticationError (or return None when no basic credential was presented at all).
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth.basic import BasicAuth, parse_basic_header
from app.auth.passwords import hash_password
from app.config.model import BasicAuthConfig, BasicCredential, Secret
from app.errors import AuthenticationError
from tests.fuzzing import any_text, budget, count

pytest_plugins = ["tests.fuzz_report"]

# Printable and not: user names never hold ':' or control characters (the loader refuses them).
user_text = st.text(
    st.characters(codec="utf-8", exclude_characters=":", min_codepoint=32), min_size=1, max_size=12
)
password_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=24)
scheme = st.sampled_from(["Basic", "basic", "BASIC", "bAsIc"])
padding = st.sampled_from(["", " ", "  ", "\t"])


def header_for(user: str, password: str, prefix: str = "Basic", pad: str = "") -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"{pad}{prefix} {pad}{token}{pad}"


def oracle(header: str | None) -> tuple[str, str] | str | None:
    """The pair RFC 7617 says the header carries; None if not basic; "bad" if malformed."""
    if header is None:
        return None
    parts = header.strip().split(" ", 1)
    if parts[0].lower() != "basic":
        return None
    if len(header) > 4096:
        return "bad"
    try:
        text = base64.b64decode(parts[1].strip() if len(parts) > 1 else "", validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        return "bad"
    if ":" not in text:
        return "bad"
    user, password = text.split(":", 1)
    return (user, password) if user and password else "bad"


@budget(400)
@given(user=user_text, password=password_text, prefix=scheme, pad=padding)
def test_any_pair_round_trips(user: str, password: str, prefix: str, pad: str) -> None:
    count("basic: header round trip")
    assert parse_basic_header(header_for(user, password, prefix, pad)) == (user, password)


header_text = st.one_of(
    any_text,
    st.builds(lambda s, t: f"{s} {t}", scheme, any_text),
    st.builds(
        lambda s, raw: f"{s} {base64.b64encode(raw).decode()}",
        scheme,
        st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode)),
    ),
    st.builds(header_for, user_text, st.text(max_size=10), scheme, padding),
)


@budget(500)
@given(header=st.none() | header_text)
def test_parser_agrees_with_the_oracle(header: str | None) -> None:
    count("basic: parser vs oracle")
    expected = oracle(header)
    if expected == "bad":
        with pytest.raises(AuthenticationError, match="basic credential"):
            parse_basic_header(header)
    else:
        assert parse_basic_header(header) == expected


CONFIGURED = (("entra", "first: secret"), ("entra", "second secret"), ("backup", "ç:ü"))
AUTH = BasicAuth(BasicAuthConfig(tuple(BasicCredential(u, Secret(p), None) for u, p in CONFIGURED)))


def near_misses(pairs: tuple[tuple[str, str], ...]) -> st.SearchStrategy[tuple[str, str]]:
    """Configured pairs, crossed pairs, and pairs one character off."""
    users = st.sampled_from([u for u, _ in pairs] + ["Entra", "entra ", "nobody"])
    passwords = st.sampled_from([p for _, p in pairs] + ["first:", "first: secreT", "ç"])
    return st.one_of(st.sampled_from(pairs), st.tuples(users, passwords))


@budget(400)
@given(pair=st.one_of(near_misses(CONFIGURED), st.tuples(user_text, password_text)))
def test_admits_exactly_the_configured_pairs(pair: tuple[str, str]) -> None:
    count("basic: authenticate vs configured pairs")
    environ = {"HTTP_AUTHORIZATION": header_for(*pair)}
    if pair in CONFIGURED:
        principal = AUTH.authenticate(environ)
        assert principal is not None and principal.subject == pair[0]
    else:
        with pytest.raises(AuthenticationError, match="does not match"):
            AUTH.authenticate(environ)


@budget(500)
@given(
    headers=st.dictionaries(st.sampled_from(["HTTP_AUTHORIZATION", "HTTP_X_OTHER"]), header_text)
)
def test_arbitrary_headers_never_escape(headers: dict[str, str]) -> None:
    count("basic: arbitrary headers")
    try:
        principal = AUTH.authenticate(headers)
    except AuthenticationError:
        return
    expected = oracle(headers.get("HTTP_AUTHORIZATION"))
    if principal is None:
        assert expected is None
    else:
        assert expected in CONFIGURED and principal.subject == expected[0]  # type: ignore[index]


HASHED_PASSWORD = "hashed: pässword"
HASHED = BasicAuth(
    BasicAuthConfig(
        (
            BasicCredential("entra", Secret("plain one"), None),
            BasicCredential("hashed", None, hash_password(HASHED_PASSWORD)),
        )
    )
)


@pytest.mark.slow
@budget(25)  # every miss costs one scrypt (~40 ms): few cases, still every branch
@given(
    pair=st.one_of(
        st.tuples(st.sampled_from(["entra", "hashed", "nobody"]),
                  st.sampled_from(["plain one", HASHED_PASSWORD, "wrong"])),
        st.tuples(user_text, password_text),
    )
)  # fmt: skip
def test_hashed_credentials_admit_exactly_their_pair(pair: tuple[str, str]) -> None:
    count("basic: hashed credential")
    environ = {"HTTP_AUTHORIZATION": header_for(*pair)}
    if pair in (("entra", "plain one"), ("hashed", HASHED_PASSWORD)):
        principal = HASHED.authenticate(environ)
        assert principal is not None and principal.subject == pair[0]
        assert HASHED.authenticate(environ) == principal  # cached verification, same answer
    else:
        with pytest.raises(AuthenticationError, match="does not match"):
            HASHED.authenticate(environ)
