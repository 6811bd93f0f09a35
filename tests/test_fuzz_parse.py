"""Properties of the request parsers: any input gives a clean request or a RequestError.

Nothing else may escape (no KeyError, TypeError, UnicodeError, RecursionError...), and
what is accepted is normalised: scalar values only, text that re-encodes as UTF-8, aliases
folded, the URL's step kept, a valid lower-case email domain.
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.contract.extension import parse_extension
from app.contract.model import SignupRequest, Step
from app.contract.parse import STRING_CLAIMS, parse_connector
from app.errors import RequestError
from tests.fuzzing import (
    any_text,
    budget,
    count,
    domain,
    extension_body,
    json_value,
    signup_body,
)

pytest_plugins = ["tests.fuzz_report"]

CONNECTOR_STEPS = (
    None,
    Step.POST_FEDERATION_SIGNUP,
    Step.POST_ATTRIBUTE_COLLECTION,
    Step.PRE_TOKEN_ISSUANCE,
)
_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)


def encodings(value: object) -> st.SearchStrategy[bytes]:
    """The same JSON as Entra (UTF-8), with escapes, and with a stray byte or two."""
    text = json.dumps(value, ensure_ascii=False)
    plain = text.encode("utf-8", "surrogatepass")
    return st.sampled_from(
        [plain, json.dumps(value).encode(), plain[:-1], b"\xef\xbb\xbf" + plain, plain + b"\x00"]
    )


def check_request(parsed: SignupRequest, url_step: Step | None) -> None:
    """What every accepted request must look like."""
    if url_step is not None:
        assert parsed.step is url_step
    for name, value in parsed.attributes.items():
        assert type(value) in (str, bool, int), (name, value)
        if isinstance(value, str):
            value.encode("utf-8")  # no lone surrogate gets through
    assert not {"lastName", "clientId"} & parsed.attributes.keys()
    assert parsed.custom <= parsed.attributes.keys()
    if parsed.email is not None:
        assert parsed.email_domain is not None and _DOMAIN.match(parsed.email_domain)
        assert len(parsed.email_domain) <= 253
    for identity in parsed.identities:
        assert identity.issuer == identity.issuer.strip().lower().rstrip(".")
        assert identity.issuer not in ("google.com", "facebook.com")


def parse_or_reject(body: bytes, url_step: Step | None) -> SignupRequest | None:
    try:
        parsed = parse_connector(body, url_step)
    except RequestError as exc:
        assert str(exc)  # every rejection says why
        return None
    check_request(parsed, url_step)
    return parsed


@budget(400)
@given(body=st.binary(max_size=300), url_step=st.sampled_from(CONNECTOR_STEPS))
def test_arbitrary_bytes(body: bytes, url_step: Step | None) -> None:
    count("parse_connector: arbitrary bytes")
    parse_or_reject(body, url_step)


@budget(400)
@given(data=st.data(), value=st.one_of(json_value, signup_body))
def test_arbitrary_json(data: st.DataObject, value: object) -> None:
    count("parse_connector: arbitrary JSON")
    body = data.draw(encodings(value))
    parse_or_reject(body, data.draw(st.sampled_from(CONNECTOR_STEPS)))


well_formed = st.fixed_dictionaries(
    {"email": st.builds(lambda d: f"ada@{d}", domain)},
    optional={
        k: st.text(max_size=20)
        for k in ("displayName", "givenName", "surname", "lastName", "postalCode", "ui_locales")
    }
    | {
        "extension_Role": st.one_of(st.text(max_size=10), st.booleans(), st.integers()),
        "identities": st.lists(
            st.fixed_dictionaries(
                {"signInType": st.just("federated"), "issuer": st.sampled_from(["google.com"])}
            ),
            max_size=2,
        ),
        "step": st.sampled_from(["PostAttributeCollection", "postattributecollection"]),
    },
)


@budget(300)
@given(body=well_formed)
def test_well_formed_requests_are_accepted_and_kept(body: dict[str, object]) -> None:
    count("parse_connector: well-formed round trip")
    parsed = parse_connector(json.dumps(body).encode(), Step.POST_ATTRIBUTE_COLLECTION)
    check_request(parsed, Step.POST_ATTRIBUTE_COLLECTION)
    assert parsed.email == body["email"]
    assert parsed.email_domain == str(body["email"]).split("@")[1]
    assert parsed.attributes.get("surname") == body.get("surname", body.get("lastName"))
    assert parsed.attributes.get("Role") == body.get("extension_Role")
    assert ("Role" in parsed.custom) == ("extension_Role" in body)
    assert len(parsed.identities) == len(body.get("identities", []))  # type: ignore[arg-type]
    assert all(i.issuer == "google" for i in parsed.identities)


@budget(300)
@given(
    body=well_formed,
    key=st.sampled_from(sorted(STRING_CLAIMS - {"email"})),
    wrong=st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                    st.floats(allow_nan=False, allow_infinity=False)),
)  # fmt: skip
def test_wrong_type_for_a_string_claim_is_named(
    body: dict[str, object], key: str, wrong: object
) -> None:
    count("parse_connector: type confusion")
    body = {**body, key: wrong}
    with pytest.raises(RequestError, match=f"claim '{key}': expected a string"):
        parse_connector(json.dumps(body).encode(), Step.POST_ATTRIBUTE_COLLECTION)


EXTENSION_STEPS = (Step.ATTRIBUTE_COLLECTION_START, Step.ATTRIBUTE_COLLECTION_SUBMIT)


@budget(400)
@given(
    data=st.data(),
    value=st.one_of(json_value, extension_body),
    url_step=st.sampled_from(EXTENSION_STEPS),
)
def test_extension_parser_accepts_or_rejects_cleanly(
    data: st.DataObject, value: object, url_step: Step
) -> None:
    count("parse_extension: arbitrary and extension-shaped JSON")
    body = data.draw(encodings(value))
    try:
        parsed = parse_extension(body, url_step)
    except RequestError as exc:
        assert str(exc)
        return
    check_request(parsed, url_step)


@budget(200)
@given(body=st.binary(max_size=200), text=any_text)
def test_extension_parser_arbitrary_bytes(body: bytes, text: str) -> None:
    count("parse_extension: arbitrary bytes")
    for raw in (body, text.encode("utf-8", "surrogatepass")):
        with contextlib.suppress(RequestError):
            check_request(parse_extension(raw, Step.ATTRIBUTE_COLLECTION_SUBMIT), None)
