"""Properties of the whole WSGI app: arbitrary bodies, headers and credentials.

Never a 5xx, never a traceback or an internal error in the log, always a contract body or
a problem body, and Continue exactly when the request parses and the independent rules
oracle (tests/rules_oracle.py) approves it.
"""

from __future__ import annotations

import contextlib
import io
import json
import string
from typing import Any

from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st

from app import create_app
from app.config import parse_config
from app.contract.extension import parse_extension
from app.contract.model import SignupRequest, Step
from app.contract.parse import parse_connector
from app.errors import RequestError
from tests.fuzzing import budget, count, extension_body, json_value, signup_body
from tests.rules_oracle import AttributeSpec, ClaimSpec, RuleSpec, first_failure, spec_to_toml
from tests.support import PASSWORD, basic

pytest_plugins = ["tests.fuzz_report"]

SPEC = RuleSpec(
    allow=(),
    deny=("mailinator.com",),
    include_subdomains=True,
    require_email=True,
    domain_steps=(),
    idp_allow=(),
    idp_deny=("facebook.com",),
    idp_steps=(),
    attributes=(
        AttributeSpec("postalCode", True, "^[0-9]{5}$", None, None, None, None),
        AttributeSpec("Role", False, None, None, None, ("student", "teacher"), None),
    ),
    claims=(
        ClaimSpec(
            "Tier", "standard", True, ("post-attribute-collection", "pre-token-issuance"), ()
        ),
    ),
)


def make_app(environment: str, methods: list[str]) -> Flask:
    data: dict[str, Any] = {
        "environment": environment,
        "auth": {
            "methods": methods,
            "basic": {"credentials": [{"username": "entra", "password_env": "P"}]},
        },
        "rules": spec_to_toml(SPEC),
    }
    with contextlib.redirect_stderr(io.StringIO()):
        return create_app(parse_config(data, "fuzz.toml", {"P": PASSWORD}), TESTING=True)


PRODUCTION = make_app("production", ["basic"]).test_client()
# "none" (development only) lets the extension endpoints be fuzzed without minting tokens.
OPEN = make_app("development", ["none"]).test_client()

CONNECTOR_URLS = {
    "/api/connector": None,
    "/api/connector/post-federation-signup": Step.POST_FEDERATION_SIGNUP,
    "/api/connector/post-attribute-collection": Step.POST_ATTRIBUTE_COLLECTION,
    "/api/connector/pre-token-issuance": Step.PRE_TOKEN_ISSUANCE,
}
EXTENSION_URLS = {
    "/api/authentication-extension/attribute-collection-start": Step.ATTRIBUTE_COLLECTION_START,
    "/api/authentication-extension/attribute-collection-submit": Step.ATTRIBUTE_COLLECTION_SUBMIT,
}
CONTENT_TYPES = (
    "application/json", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
    "application/problem+json", "text/plain", "", "multipart/form-data; boundary=x",
)  # fmt: skip
PROBLEM_KEYS = {"type", "title", "status"}

# Mostly plausible sign-ups one or two claims away from approval, so both answers are common.
plausible = st.builds(
    lambda base, extra: {**base, **extra},
    st.fixed_dictionaries(
        {
            "email": st.sampled_from(
                ["ada@contoso.com", "ada@mailinator.com", "ada@eu.mailinator.com", "ada@x.example"]
            ),
            "postalCode": st.sampled_from(["12345", "12345", "1234", "", "abcde"]),
        },
        optional={
            "extension_Role": st.sampled_from(["student", "teacher", "admin", True, 3]),
            "identities": st.sampled_from(
                [[{"signInType": "federated", "issuer": i}] for i in ("google.com", "facebook.com")]
            ),
            "step": st.sampled_from(["PostAttributeCollection", "PreTokenIssuance", "Other"]),
            "ui_locales": st.sampled_from(["fr-FR", "en", ""]),
        },
    ),
    st.one_of(st.just({}), st.just({}), signup_body.filter(lambda d: len(d) <= 2)),
)


def encoded(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.binary(max_size=200),
    json_value.map(encoded),
    signup_body.map(encoded),
    plausible.map(encoded),
    plausible.map(encoded),
)
header_value = st.text(string.printable.strip() + " éü", max_size=60)
header_name = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20)
credentials = st.one_of(
    st.just({}),
    st.builds(lambda p: basic(password=p), st.text(max_size=12)),
    st.builds(lambda v: {"Authorization": v}, header_value),
)


def call(client: Any, path: str, body: bytes, headers: dict[str, str]) -> tuple[Any, str]:
    """POST, returning the response and everything the app logged meanwhile."""
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        response = client.post(path, data=body, headers=headers)
    return response, log.getvalue()


def check_common(response: Any, log: str) -> Any:
    assert response.status_code < 500, (response.status_code, log)
    assert "Traceback" not in log and "internal.error" not in log, log
    assert response.headers.get("X-Correlation-Id") or response.status_code in (404, 405)
    payload = response.get_json(force=True)
    if response.content_type == "application/problem+json":
        assert set(payload) == PROBLEM_KEYS and payload["status"] == response.status_code
    return payload


def json_content(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def parsed_or_none(parse: Any, body: bytes, step: Step | None) -> SignupRequest | None:
    try:
        result: SignupRequest = parse(body, step)
    except RequestError:
        return None
    return result


@budget(200)
@given(
    path=st.sampled_from(sorted(CONNECTOR_URLS)),
    body=bodies,
    auth=credentials,
    extra=st.dictionaries(header_name, header_value, max_size=3),
)
def test_connector_endpoints_refuse_bad_credentials(
    path: str, body: bytes, auth: dict[str, str], extra: dict[str, str]
) -> None:
    count("app: connector endpoints, bad credentials")
    headers = {**extra, **auth, "Content-Type": "application/json"}
    response, log = call(PRODUCTION, path, body, headers)
    check_common(response, log)
    assert response.status_code == 401, log
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert "auth.rejected" in log


@budget(500)
@given(
    path=st.sampled_from(sorted(CONNECTOR_URLS)),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    extra=st.dictionaries(header_name, header_value, max_size=3),
)
def test_connector_endpoints_answer_continue_only_when_the_oracle_approves(
    path: str, body: bytes, content_type: str, extra: dict[str, str]
) -> None:
    count("app: connector endpoints, any body and headers")
    headers = {**extra, **basic()}
    if content_type:
        headers["Content-Type"] = content_type
    response, log = call(PRODUCTION, path, body, headers)
    payload = check_common(response, log)
    assert payload["version"] == "1.0.0"
    action = payload["action"]
    event(f"connector answer: {action}")
    parsed = parsed_or_none(parse_connector, body, CONNECTOR_URLS[path])
    approved = (
        parsed is not None and json_content(content_type) and first_failure(SPEC, parsed) is None
    )
    assert (action == "Continue") == approved, (action, parsed, log)
    assert (response.status_code == 400) == (action == "ValidationError")
    if action == "ValidationError":
        assert parsed is not None and parsed.step.allows_validation_error
        assert set(payload) == {"version", "status", "action", "userMessage"}
    elif action == "ShowBlockPage":
        assert set(payload) == {"version", "action", "userMessage"} and payload["userMessage"]
    else:
        claims = {k: v for k, v in payload.items() if k not in ("version", "action")}
        assert set(claims) <= {"extension_Tier"}


@budget(300)
@given(
    path=st.sampled_from(sorted(EXTENSION_URLS)),
    body=st.one_of(bodies, extension_body.map(lambda v: json.dumps(v).encode())),
)
def test_extension_endpoints(path: str, body: bytes) -> None:
    count("app: authentication-extension endpoints, any body")
    response, log = call(OPEN, path, body, {"Content-Type": "application/json"})
    payload = check_common(response, log)
    assert response.status_code == 200, payload
    data = payload["data"]
    (action,) = data["actions"]
    kind = action["@odata.type"].rsplit(".", 1)[1]
    assert kind in {
        "continueWithDefaultBehavior", "setPrefillValues", "modifyAttributeValues",
        "showValidationError", "showBlockPage",
    }  # fmt: skip
    parsed = parsed_or_none(parse_extension, body, EXTENSION_URLS[path])
    approved = parsed is not None and first_failure(SPEC, parsed) is None
    assert (kind not in ("showValidationError", "showBlockPage")) == approved, (kind, log)


@budget(300)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.one_of(
        st.sampled_from([*CONNECTOR_URLS, *EXTENSION_URLS, "/healthz", "/readyz", "/openapi.json"]),
        st.text(string.ascii_letters + "/-._~%", max_size=30).map(lambda p: "/" + p),
    ),
    headers=st.dictionaries(header_name, header_value, max_size=6),
    body=st.binary(max_size=100),
)
def test_any_method_path_and_headers(
    method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    count("app: any method, path and headers")
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        response = PRODUCTION.open(path, method=method, headers=headers, data=body)
    assert response.status_code < 500, (response.status_code, log.getvalue())
    assert "Traceback" not in log.getvalue() and "internal.error" not in log.getvalue()
    if method not in ("HEAD", "OPTIONS"):  # Flask answers OPTIONS itself: empty, with Allow
        assert response.content_type in ("application/json", "application/problem+json")
