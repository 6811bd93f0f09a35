"""Shared pieces of the fuzz and property tests: settings, strategies, and a case counter.

tests/fuzz_report.py prints the counts at the end of the run; every fuzz module loads it
with ``pytest_plugins = ["tests.fuzz_report"]``. ``CONNECTOR_FUZZ_SCALE`` multiplies every
example budget (e.g. 20 for a long soak).
"""

from __future__ import annotations

import os
import string
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("CONNECTOR_FUZZ_SCALE") or 1)
COUNTS: Counter[str] = Counter()


def budget(examples: int) -> settings:
    """Hypothesis settings for one property: bounded examples, no deadline (2 shared cores)."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def count(name: str) -> None:
    """Record one generated case of property `name`."""
    COUNTS[name] += 1


# --- strategies ------------------------------------------------------------------------------

# Every Unicode code point, surrogates included (JSON can carry them as \ud800 escapes).
any_text = st.text(st.characters(codec=None), max_size=40)
ascii_text = st.text(string.printable, max_size=40)
label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
domain = st.builds(".".join, st.lists(label, min_size=1, max_size=3))
# Odd spellings of domains: case, trailing dots, Unicode, leading dots, junk.
odd_domain = st.one_of(
    domain,
    domain.map(str.upper),
    domain.map(lambda d: d + "."),
    st.sampled_from(["bücher.example", "BÜCHER.example", "xn--bcher-kva.example", "-bad-.com"]),
    any_text,
)
email = st.one_of(
    st.builds(
        lambda local, d: f"{local}@{d}", st.from_regex(r"[a-z]{1,8}", fullmatch=True), domain
    ),
    st.builds(lambda local, d: f"{local}@{d}", ascii_text, odd_domain),
    any_text,
)
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text, ascii_text
)
json_value = st.recursive(
    scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
CLAIM_NAMES = (
    "email", "displayName", "givenName", "surname", "lastName", "jobTitle", "streetAddress",
    "city", "postalCode", "state", "country", "ui_locales", "client_id", "clientId", "objectId",
    "step", "identities", "extension_Role", "extension_0123456789abcdef0123456789abcdef_Role",
    "extension_InvitationCode", "Role", "mobilePhone",
)  # fmt: skip
STEPS = (
    "PostFederationSignup", "PostAttributeCollection", "PreTokenIssuance",
    "PreTokenApplicationClaims", "postattributecollection", " PreTokenIssuance ", "Other", "",
)  # fmt: skip
ISSUERS = ("google.com", "google", "facebook.com", "Facebook", "mail", "contoso.example", "")
identity = st.fixed_dictionaries(
    {},
    optional={
        "signInType": st.sampled_from(["federated", "emailAddress", "userName", "Federated"]),
        "issuer": st.one_of(st.sampled_from(ISSUERS), ascii_text),
        "issuerAssignedId": ascii_text,
    },
)
claim_value = st.one_of(
    scalar,
    st.sampled_from(["12345", "1234", "student", "teacher", "admin", "fr-FR", "en-US", ""]),
    st.sampled_from(STEPS),
    email,
    st.lists(identity, max_size=3),
    json_value,
)
# Entra-shaped bodies: the claims it sends, with any value at all (right types most often).
signup_body = st.dictionaries(st.sampled_from(CLAIM_NAMES), claim_value, max_size=10)
# The custom authentication extension's request (REFERENCE §3), with anything anywhere.
attribute_entry = st.fixed_dictionaries(
    {},
    optional={
        "value": claim_value,
        "@odata.type": st.sampled_from(
            ["microsoft.graph.stringDirectoryAttributeValue",
             "microsoft.graph.booleanDirectoryAttributeValue",
             "microsoft.graph.int64DirectoryAttributeValue", "other"]
        ),
        "attributeType": st.sampled_from(["builtIn", "directorySchemaExtension"]),
    },
)  # fmt: skip
extension_body = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["microsoft.graph.authenticationEvent.attributeCollectionStart",
             "microsoft.graph.authenticationEvent.attributeCollectionSubmit", "other"]
        ),
    },
    optional={
        "data": st.one_of(
            json_value,
            st.fixed_dictionaries(
                {},
                optional={
                    "authenticationContext": st.one_of(
                        json_value,
                        st.fixed_dictionaries({}, optional={"client": st.one_of(
                            json_value, st.fixed_dictionaries({}, optional={"locale": claim_value})
                        )}),
                    ),
                    "userSignUpInfo": st.one_of(
                        json_value,
                        st.fixed_dictionaries({}, optional={
                            "attributes": st.one_of(json_value, st.dictionaries(
                                st.sampled_from(["email", "postalCode", "extension_Role",
                                                 "lastName", "surname", "x"]),
                                st.one_of(attribute_entry, json_value), max_size=4)),
                            "identities": claim_value,
                        }),
                    ),
                },
            ),
        ),
    },
)  # fmt: skip
