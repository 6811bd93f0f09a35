"""Step and contract names: the vocabulary shared by the builders, the verdict and the battery."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.errors import ToolError

API_CONNECTOR = "api-connector"
AUTH_EXTENSION = "authentication-extension"
CONTRACTS = (API_CONNECTOR, AUTH_EXTENSION)

FEDERATION = "post-federation-signup"
ATTRIBUTES = "post-attribute-collection"
TOKEN = "pre-token-issuance"  # noqa: S105 (a step name)
CONNECTOR_STEPS = (FEDERATION, ATTRIBUTES, TOKEN)

START = "attribute-collection-start"
SUBMIT = "attribute-collection-submit"
EXTENSION_STEPS = (START, SUBMIT)

ALL_STEPS = CONNECTOR_STEPS + EXTENSION_STEPS

# B2C puts the step in the body; workforce tenants call one URL per step and send none.
B2C_STEP_NAMES = {
    FEDERATION: "PostFederationSignup",
    ATTRIBUTES: "PostAttributeCollection",
    TOKEN: "PreTokenIssuance",
}
# One B2C page spells the token step differently (REFERENCE §1); Entra may send either.
B2C_TOKEN_ALIAS = "PreTokenApplicationClaims"  # noqa: S105 (a step name)

# The extension events that correspond to the connector steps (same moment in the flow).
EXTENSION_EQUIVALENT = {FEDERATION: START, ATTRIBUTES: SUBMIT}

# Only "before creating the user" keeps the user on a form a ValidationError can point at.
VALIDATION_STEPS = frozenset({ATTRIBUTES, SUBMIT})
# Steps whose request carries what the user typed: an invalid attribute must block here.
ATTRIBUTE_STEPS = frozenset({ATTRIBUTES, SUBMIT})


def contract_of(step: str) -> str:
    """The contract a step belongs to."""
    return AUTH_EXTENSION if step in EXTENSION_STEPS else API_CONNECTOR


def step_from_url(url: str) -> str | None:
    """The step named by the URL's last path segment, if it names one."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in ALL_STEPS else None


def resolve(step: str | None, contract: str | None, url: str) -> tuple[str | None, str]:
    """Settle the step and contract from the options and the URL; None means the step is unknown."""
    chosen = step or step_from_url(url)
    if contract is None:
        return chosen, contract_of(chosen) if chosen else API_CONNECTOR
    if chosen is None:
        return None, contract
    if contract == AUTH_EXTENSION and chosen in CONNECTOR_STEPS:
        if chosen not in EXTENSION_EQUIVALENT:
            raise ToolError(
                f"the authentication-extension contract has no {chosen} event: "
                f"expected one of {', '.join(EXTENSION_STEPS)} "
                f"(or {FEDERATION} / {ATTRIBUTES}, their equivalents)"
            )
        return EXTENSION_EQUIVALENT[chosen], contract
    if contract == API_CONNECTOR and chosen in EXTENSION_STEPS:
        raise ToolError(
            f"step {chosen} belongs to the authentication-extension contract, "
            f"got --contract {API_CONNECTOR}"
        )
    return chosen, contract
